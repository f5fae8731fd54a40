//! Single-use links sent by mail for an existing account: password reset, email change,
//! blocking. Only the link's hash is stored.

use sqlx::any::AnyRow;

use super::{Store, StoreError, col};
use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::model::account::{LinkPurpose, StoredLink};

const T: &str = "account_tokens";

fn from_row(row: &AnyRow) -> Result<StoredLink, StoreError> {
    Ok(StoredLink {
        account_id: col(row, "account_id", T)?,
        purpose: LinkPurpose::parse(&col::<String>(row, "purpose", T)?).ok_or(StoreError::Corrupt(T))?,
        payload: col(row, "payload", T)?,
        expires_at: col(row, "expires_at", T)?,
    })
}

impl Store {
    /// Stores a link.
    pub async fn insert_link(&self, token_hash: &str, link: &StoredLink, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "insert into account_tokens (token_hash, account_id, purpose, payload, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(&link.account_id)
        .bind(link.purpose.as_str())
        .bind(link.payload.clone())
        .bind(now)
        .bind(link.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reads a live link without using it (to show the confirmation page).
    pub async fn link(&self, token_hash: &str, purpose: LinkPurpose, now: Timestamp) -> Result<Option<StoredLink>, StoreError> {
        let row = sqlx::query(
            "select account_id, purpose, payload, expires_at from account_tokens where token_hash = $1 and purpose = $2 and expires_at >= $3",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Uses a live link (single use: of concurrent callers one gets it).
    pub async fn take_link(&self, token_hash: &str, purpose: LinkPurpose, now: Timestamp) -> Result<Option<StoredLink>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "select account_id, purpose, payload, expires_at from account_tokens where token_hash = $1 and purpose = $2 and expires_at >= $3",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let link = from_row(&row)?;
        let n = sqlx::query("delete from account_tokens where token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((n == 1).then_some(link))
    }

    /// Deletes an account's links of one purpose (a new reset link replaces older ones).
    pub async fn delete_links(&self, account_id: &AccountId, purpose: LinkPurpose) -> Result<(), StoreError> {
        sqlx::query("delete from account_tokens where account_id = $1 and purpose = $2")
            .bind(account_id)
            .bind(purpose.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes expired links.
    pub async fn purge_links(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query("delete from account_tokens where expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
