//! Consents: which scopes an account has granted a client (R-SVC-3).

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId};
use crate::protocol::scope::Scopes;

impl Store {
    /// The scopes the account has consented to for the client.
    pub async fn consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<Option<Scopes>, StoreError> {
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

    /// Every consent of an account: (client id, scopes, granted at), oldest first.
    pub async fn consents_of(&self, account_id: &AccountId) -> Result<Vec<(ClientId, Scopes, Timestamp)>, StoreError> {
        let rows = sqlx::query("select client_id, scope, granted_at from consents where account_id = $1 order by granted_at, client_id")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let scope = Scopes::parse(&r.try_get::<String, _>("scope")?).map_err(|_| StoreError::Corrupt("consents"))?;
                Ok((r.try_get("client_id")?, scope, r.try_get("granted_at")?))
            })
            .collect()
    }

    /// Withdraws consent; `true` when there was one.
    pub async fn delete_consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<bool, StoreError> {
        let n = sqlx::query("delete from consents where account_id = $1 and client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Records consent to `scope` (replacing the earlier set).
    pub async fn save_consent(
        &self,
        account_id: &AccountId,
        client_id: &ClientId,
        scope: &Scopes,
        now: Timestamp,
    ) -> Result<(), StoreError> {
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
