//! Server-wide secrets (HMAC keys for client secrets, CSRF tokens and pairwise subjects),
//! created once in the database so every node shares them.

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::secret::{b64, b64_decode, random_bytes};

impl Store {
    /// Claims `name` once across all nodes: `true` for the single caller that got it.
    pub async fn claim_once(&self, name: &str, now: Timestamp) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "insert into server_secrets (name, value, created_at) values ($1, '', $2) on conflict (name) do nothing returning name",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// The secret called `name`, created with 32 random bytes on first use.
    pub async fn server_secret(&self, name: &str, now: Timestamp) -> Result<Vec<u8>, StoreError> {
        sqlx::query("insert into server_secrets (name, value, created_at) values ($1, $2, $3) on conflict (name) do nothing")
            .bind(name)
            .bind(b64(&random_bytes(32)))
            .bind(now)
            .execute(&self.pool)
            .await?;
        let value: String = sqlx::query("select value from server_secrets where name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?;
        b64_decode(&value).ok_or(StoreError::Corrupt("server_secrets"))
    }
}
