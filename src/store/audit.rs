//! The audit log's table.

use sqlx::any::AnyRow;

use super::{Store, StoreError, col};
use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::model::audit::{Event, Query};
use crate::secret::random_token;

const T: &str = "audit_events";

fn from_row(r: &AnyRow) -> Result<Event, StoreError> {
    Ok(Event {
        at: col(r, "at", T)?,
        actor: col(r, "actor", T)?,
        action: col(r, "action", T)?,
        account_id: col(r, "account_id", T)?,
        client_addr: col(r, "client_addr", T)?,
        outcome: col(r, "outcome", T)?,
        details: col(r, "details", T)?,
    })
}

/// Orders the events one process writes within the same millisecond.
static AUDIT_SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Store {
    /// Appends an event.
    pub async fn insert_audit(&self, e: &Event) -> Result<(), StoreError> {
        sqlx::query(
            "insert into audit_events (event_id, at, actor, action, account_id, client_addr, outcome, details) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        // Sortable by insertion (milliseconds, then this process's sequence), so the log reads
        // in order even within one millisecond (a failure and the lock it sets).
        .bind(format!(
            "{:013}-{:010}-{}",
            crate::clock::now_ms().0,
            AUDIT_SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10_000_000_000,
            random_token(6)
        ))
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(e.account_id.clone())
        .bind(e.client_addr.clone())
        .bind(&e.outcome)
        .bind(e.details.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The events concerning an account, oldest first.
    pub async fn audit_of(&self, account_id: &AccountId) -> Result<Vec<Event>, StoreError> {
        self.audit_events(&Query {
            account_id: Some(account_id.clone()),
            limit: u32::MAX,
            ..Query::default()
        })
        .await
    }

    /// The newest `query.limit` events matching `query`, oldest first.
    pub async fn audit_events(&self, query: &Query) -> Result<Vec<Event>, StoreError> {
        let mut sql =
            String::from("select at, actor, action, account_id, client_addr, outcome, details, event_id from audit_events where at >= $1");
        let mut n = 1;
        if query.account_id.is_some() {
            n += 1;
            sql.push_str(&format!(" and account_id = ${n}"));
        }
        if query.action.is_some() {
            sql.push_str(&format!(" and substr(action, 1, ${}) = ${}", n + 1, n + 2));
        }
        let sql = format!(
            "select * from ({sql} order by at desc, event_id desc limit {}) newest order by at, event_id",
            i64::from(query.limit)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query.since);
        if let Some(a) = &query.account_id {
            q = q.bind(a.clone());
        }
        if let Some(a) = &query.action {
            q = q.bind(i32::try_from(a.chars().count()).unwrap_or(i32::MAX)).bind(a.clone());
        }
        q.fetch_all(&self.pool).await?.iter().map(from_row).collect()
    }

    /// Removes events before `before`; returns how many.
    pub async fn purge_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query("delete from audit_events where at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
