//! The audit log (R-SEC-6): one row per security event — who, what, when, from which client
//! address, with what outcome — never a password, token, code or secret. Kept for
//! `[audit] retention_days`, read by operators with `servicekonto audit`.

use crate::clock::Timestamp;
use crate::store::{Store, StoreError};

pub use crate::model::audit::{Event, Query};

impl Event {
    /// Writes the event; the caller decides whether its action may go on without it.
    pub async fn record(self, store: &Store) -> Result<(), StoreError> {
        store.insert_audit(&self).await
    }

    /// Writes the event, or logs that it could not (the action it records has already happened).
    pub async fn note(self, store: &Store) {
        let action = self.action.clone();
        if let Err(e) = store.insert_audit(&self).await {
            tracing::error!(action, error = %e, "could not write the audit event");
        }
    }
}

/// The events matching `query`, oldest first.
pub async fn query(store: &Store, query: &Query) -> Result<Vec<Event>, StoreError> {
    store.audit_events(query).await
}

/// Removes events older than `retention_days` (R-SEC-6's configured retention).
pub async fn purge(store: &Store, retention_days: u32, now: Timestamp) -> Result<u64, StoreError> {
    store.purge_audit(now - i64::from(retention_days) * 86_400).await
}

/// Parses `--since`: a date (`2026-12-01`), a UTC time (`2026-12-01T08:00:00Z`), or an age
/// (`90m`, `24h`, `7d`) before `now`.
pub fn parse_since(text: &str, now: Timestamp) -> Option<Timestamp> {
    let text = text.trim();
    if let Some((n, unit)) = text.split_at_checked(text.len().saturating_sub(1))
        && let Ok(n) = n.parse::<i64>()
    {
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        };
        return Some(now - n.checked_mul(seconds)?);
    }
    let format = time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &format) {
        return Some(Timestamp(t.unix_timestamp()));
    }
    let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(Timestamp(date.midnight().assume_utc().unix_timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_times_and_ages() {
        let now = Timestamp(1_764_662_400); // 2025-12-02T08:00:00Z
        assert_eq!(parse_since("24h", now), Some(now - 86_400));
        assert_eq!(parse_since("7d", now), Some(now - 7 * 86_400));
        assert_eq!(parse_since("90m", now), Some(now - 5400));
        assert_eq!(parse_since("2025-12-02", now), Some(now - 8 * 3600));
        assert_eq!(parse_since("2025-12-02T08:00:00Z", now), Some(now));
        for bad in ["", "yesterday", "7w", "2025-13-01", "h"] {
            assert_eq!(parse_since(bad, now), None, "{bad}");
        }
    }
}
