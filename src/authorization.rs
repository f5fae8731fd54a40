//! The authorization transaction: an authorization request waiting for login or consent, kept
//! in the ephemeral store under a random id, bound to the browser that first continues it, and
//! counted against its client address when it is first kept (R-SEC-2); and [`proceed`], the
//! decision on it — a code, an error for the client, or the login or consent page first.

use serde::{Deserialize, Serialize};

use crate::accounts::AccountKind;
use crate::accounts::throttle::{AddressAction, Throttle};
use crate::clients::{Client, ClientDirectory};
use crate::clock::Timestamp;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::federation::FederatedIdentity;
use crate::grants::codes::{self, CodeRecord, CodeSubject, FederatedRelease};
use crate::grants::consent_set;
use crate::grants::decide::{Context, Decision, NotAdmitted, decide, decide_federated};
use crate::grants::tokens::TokenIssuer;
use crate::ids::SessionId;
use crate::orgs;
use crate::protocol::authorize::AuthorizeRequest;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::secret::random_token;
use crate::sessions::{Lookup, Sessions};
use crate::store::{Store, StoreError};
use crate::trust::{Acr, Method};

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
    /// Whose login the transaction goes on with.
    pub subject: Subject,
    /// Attributes the user deselected at a partner's consent (R-FED-4).
    #[serde(default)]
    pub withheld: Vec<String>,
    /// The client address that started it, until it is first kept (counts it, R-SEC-2).
    #[serde(skip)]
    pub origin: Option<String>,
}

/// Whose login a transaction goes on with: one of three, never a mix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// The browser's own session: single sign-on.
    Browser,
    /// The client is a federation partner (R-FED-4): no single sign-on, only a session opened
    /// by a login within this transaction, whose cookie value is kept here — never sent as a
    /// cookie, ended with the transaction — and consent on every transfer.
    Partner {
        /// The session a login within the transaction opened.
        own_session: Option<String>,
    },
    /// A person logged in through another Land within this transaction (R-FED-1); no local
    /// session.
    Federated {
        /// What the Land asserted.
        identity: FederatedIdentity,
    },
}

impl Transaction {
    /// Whether its client is a federation partner (R-FED-4).
    pub fn is_partner(&self) -> bool {
        matches!(self.subject, Subject::Partner { .. })
    }

    /// The person logged in through another Land, if that is whose login it is.
    pub fn federated(&self) -> Option<&FederatedIdentity> {
        match &self.subject {
            Subject::Federated { identity } => Some(identity),
            _ => None,
        }
    }

    /// A partner transaction's own session.
    pub fn own_session(&self) -> Option<&str> {
        match &self.subject {
            Subject::Partner { own_session } => own_session.as_deref(),
            _ => None,
        }
    }
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

/// What deciding on a transaction uses.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The registered services.
    pub clients: &'a ClientDirectory,
    /// Accounts and consents.
    pub store: &'a Store,
    /// Login sessions.
    pub sessions: &'a Sessions,
    /// Transactions and codes.
    pub ephemeral: &'a Ephemeral,
    /// How many transactions an address may start (R-SEC-2).
    pub throttle: &'a Throttle,
    /// Subjects and `id_token_hint`s.
    pub tokens: &'a TokenIssuer,
    /// Whether an eID upstream is configured (a step-up through it is possible).
    pub eid_configured: bool,
    /// Whether ELSTER is configured (a step-up of an organisation's user through it is possible).
    pub elster_configured: bool,
    /// How long a code lives.
    pub code_seconds: i64,
}

/// Where the browser goes next for a transaction that needs the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The login page.
    Login,
    /// The consent page.
    Consent,
}

/// What became of a transaction.
#[derive(Debug)]
pub enum Outcome {
    /// A code for the client; the transaction has ended.
    Code {
        /// The code.
        code: String,
        /// The request it answers.
        txn: Box<Transaction>,
    },
    /// An error for the client; the transaction has ended.
    Refused {
        /// The error.
        error: OAuthError,
        /// The request it answers.
        txn: Box<Transaction>,
        /// What the person is told before the client hears the error, with the service's
        /// name (no page when `None`).
        notice: Option<(NotAdmitted, String)>,
    },
    /// The person must log in or consent first: the transaction is kept under `id`.
    Ask {
        /// Login or consent.
        step: Step,
        /// The transaction's id.
        id: String,
        /// The browser's session had expired (the login page says so, R-SES-2).
        expired: bool,
    },
}

/// Why no outcome could be reached.
#[derive(Debug)]
pub enum ProceedError {
    /// The client of the request is no longer registered.
    UnknownClient,
    /// The decision contradicts what it was made from (a code without a session).
    Inconsistent,
    /// A backing store failed.
    Unavailable(String),
}

impl From<StoreError> for ProceedError {
    fn from(e: StoreError) -> Self {
        ProceedError::Unavailable(e.to_string())
    }
}

impl From<EphemeralError> for ProceedError {
    fn from(e: EphemeralError) -> Self {
        ProceedError::Unavailable(e.to_string())
    }
}

/// The client's answer when a new transaction was not kept for the limits.
pub fn too_many() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::TemporarilyUnavailable,
        "too many authorization requests; try again later",
    )
}

/// Decides on transaction `id` (`None`: not kept yet) for the browser with `binding`, whose
/// session cookie for it is `session_cookie` (a partner's own, R-FED-4): a code, an error, or
/// the login or consent page first (R-ACR-4, R-SVC-3, R-SES-2).
pub async fn proceed(
    env: Env<'_>,
    id: Option<String>,
    mut txn: Transaction,
    (session_cookie, binding): (Option<&str>, &str),
    now: Timestamp,
) -> Result<Outcome, ProceedError> {
    let client = env
        .clients
        .get(&txn.request.client_id, now)
        .await?
        .ok_or(ProceedError::UnknownClient)?;
    if let Some(fed) = txn.federated().cloned() {
        return proceed_federated(env, id, txn, &client, &fed, now).await;
    }
    let lookup = env.sessions.load(session_cookie, now).await?;
    let expired = matches!(lookup, Lookup::Expired);
    let session = match lookup {
        Lookup::Active(s) => match s.account_id() {
            Some(id) => env.store.account(id).await?.map(|a| (s, a)),
            None => None,
        },
        _ => None,
    };
    let stored_consent = match &session {
        // A partner asks for consent on every transfer (R-FED-4).
        Some(_) if txn.is_partner() => None,
        Some((_, a)) => env.store.consent(&a.id, &client.id).await?,
        None => None,
    };
    let hint_matches = match (&txn.request.id_token_hint, &session) {
        (Some(hint), Some((_, account))) => Some(
            env.tokens
                .verify_id_token_hint(hint, now)
                .is_ok_and(|h| h.aud.iter().any(|a| client.id == a.as_str()) && h.sub == env.tokens.subject(&client, &account.id)),
        ),
        _ => None,
    };
    // Whether a step-up through the eID is possible matters only when the session is below
    // what the request or the service needs; the lookup stays off the common path.
    let needed = txn
        .request
        .acr
        .required_level()
        .map_or(client.min_level, |l| l.max(client.min_level));
    let upstream_login = match &session {
        Some((s, a)) if s.level < needed => match a.kind {
            AccountKind::Citizen => env.eid_configured && env.store.eid_login_enabled(&a.id).await?,
            AccountKind::Organisation => env.elster_configured && env.store.elster_link(&a.id).await?.is_some(),
        },
        _ => false,
    };
    // One query, and only for an organisation's user (R-ORG-8).
    let granted = match &session {
        Some((_, a)) if a.kind == AccountKind::Organisation => orgs::access(env.store, &a.id, &client).await?.is_some(),
        _ => false,
    };
    let consent_needed = consent_set(&txn.request.scope, &txn.request.claims);
    let ctx = Context {
        granted,
        upstream_login,
        session: session.as_ref().map(|(s, a)| (s, a)),
        fresh_login: txn.fresh_login,
        fresh_consent: txn.fresh_consent,
        stored_consent: stored_consent.as_ref(),
        consent_needed: &consent_needed,
        hint_matches,
    };
    let decision = decide(&txn.request, &client, &ctx, now);
    match decision {
        Decision::Login(_) | Decision::Consent => {
            let step = if matches!(decision, Decision::Consent) {
                Step::Consent
            } else {
                Step::Login
            };
            txn.browser.get_or_insert_with(|| binding.to_owned());
            ask(env, id, txn, step, expired && step == Step::Login, now).await
        }
        Decision::Deny(error) => refuse(env, id.as_deref(), txn, error).await,
        Decision::Refuse(why) => tell_and_refuse(env, id.as_deref(), txn, (why, client.name.clone())).await,
        Decision::Issue { acr } => {
            let Some((session, account)) = &session else {
                return Err(ProceedError::Inconsistent);
            };
            let subject = CodeSubject::Account {
                account_id: account.id.clone(),
            };
            let record = code_record(&txn, subject, acr, session.amr(), session.auth_time, Some(session.sid.clone()));
            issue(env, id.as_deref(), txn, &record, now).await
        }
    }
}

/// [`proceed`] for a person logged in through another Land (R-FED-1, -3).
async fn proceed_federated(
    env: Env<'_>,
    id: Option<String>,
    txn: Transaction,
    client: &Client,
    fed: &FederatedIdentity,
    now: Timestamp,
) -> Result<Outcome, ProceedError> {
    let sub = env.tokens.federated_subject(client, &fed.upstream, &fed.subject);
    let hint_names_other = txn
        .request
        .id_token_hint
        .as_deref()
        .is_some_and(|hint| env.tokens.verify_id_token_hint(hint, now).map_or(true, |h| h.sub != sub));
    let decision = if hint_names_other {
        Decision::Deny(OAuthError::new(
            OAuthErrorCode::LoginRequired,
            "the person logged in is not the one named by id_token_hint",
        ))
    } else {
        decide_federated(&txn.request, client, fed.level, txn.fresh_consent)
    };
    match decision {
        Decision::Issue { acr } => {
            let release = FederatedRelease {
                upstream: fed.upstream.clone(),
                sub,
                claims: fed.claims.clone(),
            };
            let amr = vec![Method::Fed];
            let subject = CodeSubject::Federated(Box::new(release));
            let record = code_record(&txn, subject, acr, amr, fed.auth_time, None);
            issue(env, id.as_deref(), txn, &record, now).await
        }
        Decision::Deny(error) => refuse(env, id.as_deref(), txn, error).await,
        Decision::Refuse(why) => tell_and_refuse(env, id.as_deref(), txn, (why, client.name.clone())).await,
        Decision::Consent | Decision::Login(_) => ask(env, id, txn, Step::Consent, false, now).await,
    }
}

/// Keeps the transaction for the next step; a new one only within the limits (R-SEC-2), else
/// the client hears it is too busy.
async fn ask(
    env: Env<'_>,
    id: Option<String>,
    txn: Transaction,
    step: Step,
    expired: bool,
    now: Timestamp,
) -> Result<Outcome, ProceedError> {
    match keep(env.ephemeral, env.throttle, id, &txn, now).await {
        Ok(id) => Ok(Outcome::Ask { step, id, expired }),
        Err(NotKept::Limited) => refuse(env, None, txn, too_many()).await,
        Err(NotKept::Unavailable(e)) => Err(e.into()),
    }
}

/// Ends the transaction with an error for the client.
async fn refuse(env: Env<'_>, id: Option<&str>, txn: Transaction, error: OAuthError) -> Result<Outcome, ProceedError> {
    close(env.ephemeral, env.sessions, id, &txn).await;
    Ok(Outcome::Refused {
        error,
        txn: Box::new(txn),
        notice: None,
    })
}

/// Ends the transaction with `access_denied` for the client, which the person is told first.
async fn tell_and_refuse(env: Env<'_>, id: Option<&str>, txn: Transaction, notice: (NotAdmitted, String)) -> Result<Outcome, ProceedError> {
    close(env.ephemeral, env.sessions, id, &txn).await;
    Ok(Outcome::Refused {
        error: notice.0.error(),
        txn: Box::new(txn),
        notice: Some(notice),
    })
}

/// Issues the code and ends the transaction.
async fn issue(env: Env<'_>, id: Option<&str>, txn: Transaction, record: &CodeRecord, now: Timestamp) -> Result<Outcome, ProceedError> {
    let code = codes::issue(env.ephemeral, record, env.code_seconds, now).await?;
    close(env.ephemeral, env.sessions, id, &txn).await;
    Ok(Outcome::Code { code, txn: Box::new(txn) })
}

fn code_record(
    txn: &Transaction,
    subject: CodeSubject,
    acr: Acr,
    amr: Vec<Method>,
    auth_time: Timestamp,
    sid: Option<SessionId>,
) -> CodeRecord {
    let request = &txn.request;
    CodeRecord {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        subject,
        scope: request.scope.clone(),
        claims: request.claims.clone(),
        acr,
        amr,
        auth_time,
        sid,
        withheld: txn.withheld.clone(),
        // Set by `codes::issue`.
        expires_at: Timestamp::default(),
    }
}

/// Ends a transaction that reached its answer, with a partner's session opened for it.
pub async fn close(ephemeral: &Ephemeral, sessions: &Sessions, id: Option<&str>, txn: &Transaction) {
    if let Some(id) = id {
        end(ephemeral, id).await;
    }
    if let Some(own) = txn.own_session()
        && let Err(e) = sessions.destroy(own).await
    {
        tracing::warn!(error = %e, "could not end a federation partner's session");
    }
}
