//! Sealed signing keys (see `keys::source`): the store never sees a private key in clear.

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;

impl Store {
    /// Every stored key id.
    pub async fn signing_key_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("select kid from signing_keys order by kid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("kid").map_err(StoreError::from))
            .collect()
    }

    /// Every stored key: id and sealed key.
    pub async fn signing_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("select kid, sealed_key from signing_keys")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("kid")?, r.try_get("sealed_key")?))).collect()
    }

    /// Stores a new sealed key.
    /// Deletes a signing key (revocation).
    pub async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        sqlx::query("delete from signing_keys where kid = $1")
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_signing_key(&self, kid: &str, created_at: Timestamp, sealed: &str) -> Result<(), StoreError> {
        sqlx::query("insert into signing_keys (kid, created_at, sealed_key) values ($1, $2, $3)")
            .bind(kid)
            .bind(created_at)
            .bind(sealed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
