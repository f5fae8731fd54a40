//! A security event of the audit log (R-SEC-6) and what an operator asks the log for.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::ids::AccountId;

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
    pub account_id: Option<AccountId>,
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
    pub fn by_account(mut self, account_id: &AccountId) -> Event {
        self.actor = format!("account:{account_id}");
        self.account_id = Some(account_id.clone());
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
    pub fn account(mut self, account_id: Option<&AccountId>) -> Event {
        self.account_id = account_id.cloned();
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
}

/// What an operator asks the audit log for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Events at or after this time.
    pub since: Timestamp,
    /// Only events concerning this account.
    pub account_id: Option<AccountId>,
    /// Only actions starting with this (`login.` for every login).
    pub action: Option<String>,
    /// At most this many, the newest.
    pub limit: u32,
}
