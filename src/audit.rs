//! The audit log (R-SEC-6): one row per security event — who, what, when, from which client
//! address, with what outcome — never a password, token, code or secret. Kept for
//! `[audit] retention_days`, read by operators with `servicekonto audit`.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::store::{Store, StoreError};

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When (seconds since the epoch).
    pub at: Timestamp,
    /// Who acted: `account:<id>`, `staff:<username>`, `operator` (the CLI) or `anonymous`.
    pub actor: String,
    /// What, as `area.verb` (`login.password`, `password.change`, `key.revoke`, …).
    pub action: String,
    /// The account concerned, if any.
    pub account_id: Option<String>,
    /// The client address the request came from (absent for the CLI).
    pub client_addr: Option<String>,
    /// `ok` or why not (`wrong_password`, `locked`, `blocked`, …).
    pub outcome: String,
    /// Short facts the action needs (a key id, a client id, an upstream), never a secret.
    pub details: Option<String>,
}

impl Event {
    /// An event by nobody known yet, outcome `ok`.
    pub fn new(action: &str, now: Timestamp) -> Event {
        Event {
            at: now,
            actor: "anonymous".into(),
            action: action.into(),
            account_id: None,
            client_addr: None,
            outcome: "ok".into(),
            details: None,
        }
    }

    /// Done by the account itself (also the account concerned).
    pub fn by_account(mut self, account_id: &str) -> Event {
        self.actor = format!("account:{account_id}");
        self.account_id = Some(account_id.into());
        self
    }

    /// Done by a staff member.
    pub fn by_staff(mut self, username: &str) -> Event {
        self.actor = format!("staff:{username}");
        self
    }

    /// Done by an operator through the command line.
    pub fn by_operator(mut self) -> Event {
        self.actor = "operator".into();
        self
    }

    /// Concerning an account (when the actor is someone else).
    pub fn account(mut self, account_id: Option<&str>) -> Event {
        self.account_id = account_id.map(str::to_owned);
        self
    }

    /// From this client address.
    pub fn from(mut self, addr: &str) -> Event {
        self.client_addr = Some(addr.into());
        self
    }

    /// With this outcome.
    pub fn outcome(mut self, outcome: &str) -> Event {
        self.outcome = outcome.into();
        self
    }

    /// With these details.
    pub fn details(mut self, details: impl Into<String>) -> Event {
        self.details = Some(details.into());
        self
    }

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

/// What an operator asks the audit log for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Events at or after this time.
    pub since: Timestamp,
    /// Only events concerning this account.
    pub account_id: Option<String>,
    /// Only actions starting with this (`login.` for every login).
    pub action: Option<String>,
    /// At most this many, the newest.
    pub limit: u32,
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
        return Some(t.unix_timestamp());
    }
    let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_times_and_ages() {
        let now = 1_764_662_400; // 2025-12-02T08:00:00Z
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
