//! Idempotency keys of the resource API (R-API-4), kept in the database so that every node
//! recognises a retry.

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::model::idempotency::{IdempotencyRecord, StoredAnswer};

const T: &str = "idempotency_keys";

impl Store {
    /// Claims `key` of `caller` for a request with `fingerprint`; `false` when it was claimed
    /// before (by this request's first try, or another request).
    pub async fn claim_idempotency_key(
        &self,
        (caller, key): (&str, &str),
        fingerprint: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        // A key past its time is free again, even before the purge comes by.
        sqlx::query("delete from idempotency_keys where caller = $1 and idem_key = $2 and expires_at < $3")
            .bind(caller)
            .bind(key)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "insert into idempotency_keys (caller, idem_key, fingerprint, status, created_at, expires_at) \
             values ($1, $2, $3, 0, $4, $5) on conflict (caller, idem_key) do nothing",
        )
        .bind(caller)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// What `key` of `caller` holds, unless it has expired.
    pub async fn idempotency_record(&self, (caller, key): (&str, &str), now: Timestamp) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "select fingerprint, status, content_type, location, body, created_at from idempotency_keys \
             where caller = $1 and idem_key = $2 and expires_at >= $3",
        )
        .bind(caller)
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let status: i64 = r.try_get("status")?;
        let answer = match status {
            0 => None,
            s => Some(StoredAnswer {
                status: u16::try_from(s).map_err(|_| StoreError::Corrupt(T))?,
                content_type: r.try_get("content_type")?,
                location: r.try_get("location")?,
                body: r.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
            }),
        };
        Ok(Some(IdempotencyRecord {
            fingerprint: r.try_get("fingerprint")?,
            answer,
            created_at: r.try_get("created_at")?,
        }))
    }

    /// Keeps the answer the claimed key's request got.
    pub async fn record_idempotent_answer(&self, (caller, key): (&str, &str), answer: &StoredAnswer) -> Result<(), StoreError> {
        sqlx::query(
            "update idempotency_keys set status = $3, content_type = $4, location = $5, body = $6 \
             where caller = $1 and idem_key = $2 and status = 0",
        )
        .bind(caller)
        .bind(key)
        .bind(i64::from(answer.status))
        .bind(answer.content_type.as_deref())
        .bind(answer.location.as_deref())
        .bind(&answer.body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives a claimed key back while its request has no answer (it failed inside, or its node
    /// went away before `created_before`), so a retry runs again.
    pub async fn release_idempotency_key(&self, (caller, key): (&str, &str), created_before: Timestamp) -> Result<(), StoreError> {
        sqlx::query("delete from idempotency_keys where caller = $1 and idem_key = $2 and status = 0 and created_at < $3")
            .bind(caller)
            .bind(key)
            .bind(created_before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes keys that have expired; how many.
    pub async fn purge_idempotency_keys(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query("delete from idempotency_keys where expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
