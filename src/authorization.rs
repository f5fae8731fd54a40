//! The authorization transaction: an authorization request waiting for login or consent, kept
//! in the ephemeral store under a random id, bound to the browser that first continues it, and
//! counted against its client address when it is first kept (R-SEC-2).

use serde::{Deserialize, Serialize};

use crate::accounts::throttle::{AddressAction, Throttle};
use crate::clock::Timestamp;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::federation::FederatedIdentity;
use crate::protocol::authorize::AuthorizeRequest;
use crate::secret::random_token;

/// An authorization request waiting for login or consent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transaction {
    /// The checked request.
    pub request: AuthorizeRequest,
    /// The browser it belongs to (hash of the browser cookie), bound on first use.
    pub browser: Option<String>,
    /// A login happened within this transaction.
    pub fresh_login: bool,
    /// Consent was given within this transaction.
    pub fresh_consent: bool,
    /// When it is abandoned.
    pub expires_at: Timestamp,
    /// The client is a federation partner: no single sign-on, consent on every transfer
    /// (R-FED-4).
    #[serde(default)]
    pub partner: bool,
    /// For a partner: the cookie value of the session opened by a login within this
    /// transaction. It is never sent as a cookie and ends with the transaction.
    #[serde(default)]
    pub own_session: Option<String>,
    /// The person logged in through another Land within this transaction (R-FED-1).
    #[serde(default)]
    pub federated: Option<FederatedIdentity>,
    /// Attributes the user deselected at a partner's consent (R-FED-4).
    #[serde(default)]
    pub withheld: Vec<String>,
    /// The client address that started it, until it is first kept (counts it, R-SEC-2).
    #[serde(skip)]
    pub origin: Option<String>,
}

/// Why a transaction could not be continued.
#[derive(Debug)]
pub enum TxnError {
    /// Unknown or expired.
    Unknown,
    /// Started in another browser.
    OtherBrowser,
    /// The store failed.
    Unavailable(EphemeralError),
}

fn txn_key(id: &str) -> String {
    format!("authz:{id}")
}

/// Stores a transaction under `id` (a new id when `None`); returns the id.
pub async fn save(ephemeral: &Ephemeral, id: Option<String>, txn: &Transaction, now: Timestamp) -> Result<String, EphemeralError> {
    let id = id.unwrap_or_else(|| random_token(16));
    ephemeral.put_json(&txn_key(&id), txn, txn.expires_at, now).await?;
    Ok(id)
}

/// The most a stored transaction may take (R-SEC-2); a request that needs more is refused.
pub const MAX_TXN_BYTES: usize = 16 * 1024;

/// Why a new transaction was not kept.
pub enum NotKept {
    /// Its address, or all addresses together, started too many this hour (R-SEC-2).
    Limited,
    /// The store failed.
    Unavailable(EphemeralError),
}

/// Keeps a transaction; a new one only within what its client address and all addresses
/// together may make us keep (R-SEC-2). Requests answered at once (a code for a live session)
/// keep nothing and count nothing.
pub async fn keep(
    ephemeral: &Ephemeral,
    throttle: &Throttle,
    id: Option<String>,
    txn: &Transaction,
    now: Timestamp,
) -> Result<String, NotKept> {
    if id.is_none()
        && let Some(addr) = &txn.origin
    {
        match throttle.allow_from(AddressAction::Authorize, addr, now).await {
            Ok(true) => {}
            Ok(false) => return Err(NotKept::Limited),
            Err(e) => return Err(NotKept::Unavailable(e)),
        }
    }
    save(ephemeral, id, txn, now).await.map_err(NotKept::Unavailable)
}

/// Loads a transaction for the browser with `binding`, binding it to that browser on first use.
pub async fn load(ephemeral: &Ephemeral, id: &str, binding: &str, now: Timestamp) -> Result<Transaction, TxnError> {
    if id.len() > 64 {
        return Err(TxnError::Unknown);
    }
    let mut txn: Transaction = ephemeral
        .get_json(&txn_key(id), now)
        .await
        .map_err(TxnError::Unavailable)?
        .ok_or(TxnError::Unknown)?;
    match &txn.browser {
        Some(b) if b != binding => Err(TxnError::OtherBrowser),
        Some(_) => Ok(txn),
        None => {
            txn.browser = Some(binding.to_owned());
            save(ephemeral, Some(id.to_string()), &txn, now)
                .await
                .map_err(TxnError::Unavailable)?;
            Ok(txn)
        }
    }
}

/// Deletes a finished transaction.
pub async fn end(ephemeral: &Ephemeral, id: &str) {
    if let Err(e) = ephemeral.delete(&txn_key(id)).await {
        tracing::warn!(error = %e, "could not delete authorization transaction");
    }
}
