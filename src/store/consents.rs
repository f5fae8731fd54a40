//! Consents: which scopes an account has granted a client (R-SVC-3).

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::protocol::scope::Scopes;

impl Store {
    /// The scopes the account has consented to for the client.
    pub async fn consent(&self, account_id: &str, client_id: &str) -> Result<Option<Scopes>, StoreError> {
        let row = sqlx::query("select scope from consents where account_id = $1 and client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(
                Scopes::parse(&r.try_get::<String, _>("scope")?).map_err(|_| StoreError::Corrupt("consents"))?,
            )),
            None => Ok(None),
        }
    }

    /// Records consent to `scope` (replacing the earlier set).
    pub async fn save_consent(&self, account_id: &str, client_id: &str, scope: &Scopes, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "insert into consents (account_id, client_id, scope, granted_at) values ($1, $2, $3, $4) \
             on conflict (account_id, client_id) do update set scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(scope.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
