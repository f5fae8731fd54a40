//! Authorization codes (RFC 6749 §4.1.2, §10.5): single use, short-lived, bound to client,
//! redirect URI and PKCE challenge, kept in the ephemeral store under their hash. A redeemed
//! code leaves a marker naming its grant, so a second redemption can revoke what the first
//! one issued (RFC 6749 §4.1.2).

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::ids::{AccountId, ClientId, GrantId, SessionId};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::scope::Scopes;
use crate::secret::{constant_time_eq, random_token, sha256_b64};
use crate::trust::{Acr, Method};

/// How long the redemption marker outlives the code.
const USED_MARKER_SECONDS: i64 = 600;

/// Everything a code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Client it was issued to.
    pub client_id: ClientId,
    /// Redirect URI of the request.
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// Nonce for the ID token.
    pub nonce: Option<String>,
    /// Who the code is for.
    pub subject: CodeSubject,
    /// Granted scopes.
    pub scope: Scopes,
    /// Claims parameter.
    pub claims: ClaimsRequest,
    /// Reported `acr`.
    pub acr: Acr,
    /// `amr` values.
    pub amr: Vec<Method>,
    /// Authentication time.
    pub auth_time: Timestamp,
    /// Login session id; `None` for a login through another Land: no session stands behind it.
    pub sid: Option<SessionId>,
    /// Attributes deselected at a federation partner's consent (R-FED-4).
    #[serde(default)]
    pub withheld: Vec<String>,
    /// End of the code's life, set when it is issued (a code put back after an outage keeps it).
    #[serde(default)]
    pub expires_at: Timestamp,
}

/// Who a code is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CodeSubject {
    /// A local account.
    Account {
        /// Its id.
        account_id: AccountId,
    },
    /// A person logged in through another Land, who has no local account (R-FED-3).
    Federated(Box<FederatedRelease>),
}

/// What a login through another Land hands to the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedRelease {
    /// The Land (upstream id).
    pub upstream: String,
    /// The `sub` the service knows the person by.
    pub sub: String,
    /// The Land's claims, in our names, that the user consented to pass on.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum Redemption {
    /// First use: the record, and the grant id reserved for it.
    Fresh(Box<CodeRecord>, GrantId),
    /// Used before by the same client: the grant the first use created, to revoke.
    Replayed(GrantId),
    /// Presented with bindings that do not match; the code is left as it was (not used up, and
    /// a replay by another client revokes nothing of the rightful client's).
    Refused(Refusal),
    /// Unknown or expired.
    Unknown,
}

/// Why a code was refused without being used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Another client presented it.
    #[error("the code was issued to another client")]
    OtherClient,
    /// The redirect URI differs from the authorization request's.
    #[error("redirect_uri does not match the authorization request")]
    RedirectUri,
    /// The PKCE verifier is missing or wrong.
    #[error("PKCE verification failed")]
    Pkce,
    /// RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
    #[error("code_verifier given but the request had no code_challenge")]
    UnexpectedVerifier,
}

/// What the client presents with a code (RFC 6749 §4.1.3, RFC 7636 §4.5).
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The authenticated client.
    pub client_id: &'a ClientId,
    /// `redirect_uri` of the token request.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier` of the token request.
    pub code_verifier: Option<&'a str>,
}

impl CodeRecord {
    /// Checks the request's bindings against what the code was issued for.
    fn admits(&self, p: &Presented<'_>) -> Result<(), Refusal> {
        if self.client_id != *p.client_id {
            return Err(Refusal::OtherClient);
        }
        if p.redirect_uri != Some(self.redirect_uri.as_str()) {
            return Err(Refusal::RedirectUri);
        }
        match (&self.code_challenge, p.code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => Ok(()),
            (Some(_), _) => Err(Refusal::Pkce),
            (None, Some(_)) => Err(Refusal::UnexpectedVerifier),
            (None, None) => Ok(()),
        }
    }
}

/// What a used code leaves behind: who used it and the grant it made.
#[derive(Debug, Serialize, Deserialize)]
struct UsedMarker {
    client_id: ClientId,
    grant_id: GrantId,
}

fn code_key(code: &str) -> String {
    format!("code:{}", sha256_b64(code.as_bytes()))
}

fn used_key(code: &str) -> String {
    format!("code-used:{}", sha256_b64(code.as_bytes()))
}

/// Stores a new code for `record`; returns the code.
pub async fn issue(ephemeral: &Ephemeral, record: &CodeRecord, lifetime: i64, now: Timestamp) -> Result<String, EphemeralError> {
    let code = random_token(32);
    let stored = CodeRecord {
        expires_at: now + lifetime,
        ..record.clone()
    };
    ephemeral.put_json(&code_key(&code), &stored, stored.expires_at, now).await?;
    Ok(code)
}

/// Redeems a code for the client that presents it. The bindings (client, redirect URI, PKCE)
/// are checked before the code is used up, so a refused request leaves it usable; then it is
/// taken atomically (at most one caller gets the record) and marked used with the grant id the
/// redemption will create.
pub async fn redeem(ephemeral: &Ephemeral, code: &str, presented: Presented<'_>, now: Timestamp) -> Result<Redemption, EphemeralError> {
    // A code's end is its own, not the backend's: Redis expires keys on its clock, a code must
    // be dead at `expires_at` on ours.
    if let Some(record) = ephemeral.get_json::<CodeRecord>(&code_key(code), now).await? {
        if record.expires_at <= now {
            return Ok(Redemption::Unknown);
        }
        if let Err(refusal) = record.admits(&presented) {
            return Ok(Redemption::Refused(refusal));
        }
    }
    match ephemeral.take_json::<CodeRecord>(&code_key(code), now).await? {
        Some(record) if record.expires_at <= now => Ok(Redemption::Unknown),
        Some(record) => {
            let grant_id = GrantId::random();
            let marker = UsedMarker {
                client_id: record.client_id.clone(),
                grant_id: grant_id.clone(),
            };
            ephemeral.put_json(&used_key(code), &marker, now + USED_MARKER_SECONDS, now).await?;
            Ok(Redemption::Fresh(Box::new(record), grant_id))
        }
        None => Ok(match ephemeral.get_json::<UsedMarker>(&used_key(code), now).await? {
            Some(m) if m.client_id == *presented.client_id => Redemption::Replayed(m.grant_id),
            Some(_) => Redemption::Refused(Refusal::OtherClient),
            None => Redemption::Unknown,
        }),
    }
}

/// Puts a code back after a redemption that failed for an outage (the database, say), so the
/// client's retry works: a request refused for an outage uses nothing up.
pub async fn restore(ephemeral: &Ephemeral, code: &str, record: &CodeRecord, now: Timestamp) -> Result<(), EphemeralError> {
    ephemeral.delete(&used_key(code)).await?;
    ephemeral.put_json(&code_key(code), record, record.expires_at, now).await
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) must equal the challenge.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let valid_verifier =
        (43..=128).contains(&verifier.len()) && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    valid_verifier && constant_time_eq(sha256_b64(verifier.as_bytes()).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::TrustLevel;

    fn record() -> CodeRecord {
        CodeRecord {
            client_id: "c".into(),
            redirect_uri: "https://rp/cb".into(),
            code_challenge: None,
            nonce: None,
            subject: CodeSubject::Account { account_id: "a".into() },
            scope: Scopes::parse("openid").unwrap(),
            claims: ClaimsRequest::default(),
            acr: Acr::of(TrustLevel::Basic),
            amr: vec![Method::Pwd],
            auth_time: Timestamp(0),
            sid: Some("s".into()),
            withheld: vec![],
            expires_at: Timestamp(0),
        }
    }

    static CLIENT: std::sync::LazyLock<ClientId> = std::sync::LazyLock::new(|| ClientId::new("c"));

    fn as_issued() -> Presented<'static> {
        Presented {
            client_id: &CLIENT,
            redirect_uri: Some("https://rp/cb"),
            code_verifier: None,
        }
    }

    #[tokio::test]
    async fn codes_are_single_use_and_replays_name_the_grant() {
        let e = Ephemeral::memory();
        let code = issue(&e, &record(), 60, Timestamp(0)).await.unwrap();
        let Redemption::Fresh(_, grant) = redeem(&e, &code, as_issued(), Timestamp(1)).await.unwrap() else {
            panic!("first use")
        };
        match redeem(&e, &code, as_issued(), Timestamp(30)).await.unwrap() {
            Redemption::Replayed(g) => assert_eq!(g, grant),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            redeem(&e, "nope", as_issued(), Timestamp(1)).await.unwrap(),
            Redemption::Unknown
        ));
    }

    #[tokio::test]
    async fn a_code_presented_with_other_bindings_is_refused_and_left_usable() {
        let e = Ephemeral::memory();
        let code = issue(&e, &record(), 60, Timestamp(0)).await.unwrap();
        let other = Presented {
            client_id: &ClientId::from("x"),
            ..as_issued()
        };
        let wrong_uri = Presented {
            redirect_uri: Some("https://rp/other"),
            ..as_issued()
        };
        let verifier = Presented {
            code_verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            ..as_issued()
        };
        for (p, why) in [
            (other, Refusal::OtherClient),
            (wrong_uri, Refusal::RedirectUri),
            (verifier, Refusal::UnexpectedVerifier),
        ] {
            assert!(matches!(redeem(&e, &code, p, Timestamp(1)).await.unwrap(), Redemption::Refused(r) if r == why));
        }
        let Redemption::Fresh(_, grant) = redeem(&e, &code, as_issued(), Timestamp(2)).await.unwrap() else {
            panic!("still usable")
        };
        // Another client replaying it revokes nothing; the rightful client's replay names the grant.
        assert!(matches!(
            redeem(&e, &code, other, Timestamp(3)).await.unwrap(),
            Redemption::Refused(Refusal::OtherClient)
        ));
        assert!(matches!(redeem(&e, &code, as_issued(), Timestamp(3)).await.unwrap(), Redemption::Replayed(g) if g == grant));
    }

    #[tokio::test]
    async fn a_code_put_back_after_an_outage_works_once_more_until_its_own_end() {
        let e = Ephemeral::memory();
        let code = issue(&e, &record(), 60, Timestamp(0)).await.unwrap();
        let Redemption::Fresh(record, _) = redeem(&e, &code, as_issued(), Timestamp(1)).await.unwrap() else {
            panic!("first use")
        };
        restore(&e, &code, &record, Timestamp(2)).await.unwrap();
        assert!(matches!(
            redeem(&e, &code, as_issued(), Timestamp(3)).await.unwrap(),
            Redemption::Fresh(..)
        ));
        restore(&e, &code, &record, Timestamp(4)).await.unwrap();
        assert!(
            matches!(redeem(&e, &code, as_issued(), Timestamp(61)).await.unwrap(), Redemption::Unknown),
            "not longer than issued"
        );
    }

    #[tokio::test]
    async fn codes_expire() {
        let e = Ephemeral::memory();
        let code = issue(&e, &record(), 60, Timestamp(0)).await.unwrap();
        assert!(matches!(
            redeem(&e, &code, as_issued(), Timestamp(61)).await.unwrap(),
            Redemption::Unknown
        ));
    }

    #[test]
    fn pkce_s256_rfc7636_appendix_b() {
        assert!(pkce_matches(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_matches(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"
        ));
    }
}
