//! The mail queue: every mail is stored before delivery and removed once delivered, so a mail
//! server that is down delays mail but loses none.

use sqlx::any::AnyRow;

use super::{Store, StoreError, col};
use crate::clock::Timestamp;
use crate::model::mail::QueuedMail;

const T: &str = "mail_queue";

fn from_row(row: &AnyRow) -> Result<QueuedMail, StoreError> {
    Ok(QueuedMail {
        id: col(row, "mail_id", T)?,
        sender: col(row, "sender", T)?,
        recipient: col(row, "recipient", T)?,
        message: col(row, "message", T)?,
        kind: col(row, "kind", T)?,
        attempts: col(row, "attempts", T)?,
        next_attempt_at: col(row, "next_attempt_at", T)?,
    })
}

impl Store {
    /// Queues a mail, due at once.
    pub async fn queue_mail(&self, m: &QueuedMail, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "insert into mail_queue (mail_id, sender, recipient, message, kind, attempts, next_attempt_at, created_at) \
             values ($1, $2, $3, $4, $5, 0, $6, $7)",
        )
        .bind(&m.id)
        .bind(&m.sender)
        .bind(&m.recipient)
        .bind(&m.message)
        .bind(&m.kind)
        .bind(m.next_attempt_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Mails due for an attempt, oldest first.
    pub async fn due_mail(&self, now: Timestamp, limit: i64) -> Result<Vec<QueuedMail>, StoreError> {
        let rows = sqlx::query(
            "select mail_id, sender, recipient, message, kind, attempts, next_attempt_at from mail_queue \
             where next_attempt_at <= $1 order by next_attempt_at, created_at limit $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Claims a due mail for one attempt by moving its next attempt to `retry_at`; `false` when
    /// another node claimed it first.
    pub async fn claim_mail(&self, m: &QueuedMail, retry_at: Timestamp) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "update mail_queue set attempts = attempts + 1, next_attempt_at = $1 where mail_id = $2 and next_attempt_at = $3 and attempts = $4",
        )
        .bind(retry_at)
        .bind(&m.id)
        .bind(m.next_attempt_at)
        .bind(m.attempts)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Removes a delivered mail.
    pub async fn mail_delivered(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("delete from mail_queue where mail_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records why an attempt failed.
    pub async fn mail_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        let error: String = error.chars().take(500).collect();
        sqlx::query("update mail_queue set last_error = $1 where mail_id = $2")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops mails queued before `before`; how many.
    pub async fn purge_mail(&self, before: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query("delete from mail_queue where created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// How many mails wait (metrics, readiness of the mail path).
    pub async fn mail_backlog(&self) -> Result<i64, StoreError> {
        use sqlx::Row;
        Ok(sqlx::query("select count(*) as n from mail_queue")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}
