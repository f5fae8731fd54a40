//! Authorization codes (RFC 6749 §4.1.2, §10.5): single use, short-lived, bound to client,
//! redirect URI and PKCE challenge, kept in the ephemeral store under their hash. A redeemed
//! code leaves a marker naming its grant, so a second redemption can revoke what the first
//! one issued (RFC 6749 §4.1.2).

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::scope::Scopes;
use crate::secret::{constant_time_eq, random_token, sha256_b64};

/// How long the redemption marker outlives the code.
const USED_MARKER_SECONDS: i64 = 600;

/// Everything a code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Client it was issued to.
    pub client_id: String,
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
    pub acr: String,
    /// `amr` values.
    pub amr: Vec<String>,
    /// Authentication time.
    pub auth_time: Timestamp,
    /// Login session id (empty for a login through another Land: no session stands behind it).
    pub sid: String,
    /// Attributes deselected at a federation partner's consent (R-FED-4).
    #[serde(default)]
    pub withheld: Vec<String>,
}

/// Who a code is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CodeSubject {
    /// A local account.
    Account {
        /// Its id.
        account_id: String,
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
    Fresh(Box<CodeRecord>, String),
    /// Used before: the grant the first use created, to revoke.
    Replayed(String),
    /// Unknown or expired.
    Unknown,
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
    ephemeral.put_json(&code_key(&code), record, now + lifetime, now).await?;
    Ok(code)
}

/// Takes a code (atomically: at most one caller gets the record) and marks it used with the
/// grant id that the redemption will create.
pub async fn redeem(ephemeral: &Ephemeral, code: &str, now: Timestamp) -> Result<Redemption, EphemeralError> {
    match ephemeral.take_json::<CodeRecord>(&code_key(code), now).await? {
        Some(record) => {
            let grant_id = random_token(16);
            ephemeral
                .put_json(&used_key(code), &grant_id, now + USED_MARKER_SECONDS, now)
                .await?;
            Ok(Redemption::Fresh(Box::new(record), grant_id))
        }
        None => Ok(match ephemeral.get_json::<String>(&used_key(code), now).await? {
            Some(grant_id) => Redemption::Replayed(grant_id),
            None => Redemption::Unknown,
        }),
    }
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

    fn record() -> CodeRecord {
        CodeRecord {
            client_id: "c".into(),
            redirect_uri: "https://rp/cb".into(),
            code_challenge: None,
            nonce: None,
            subject: CodeSubject::Account { account_id: "a".into() },
            scope: Scopes::parse("openid").unwrap(),
            claims: ClaimsRequest::default(),
            acr: "urn:servicekonto:acr:basic".into(),
            amr: vec!["pwd".into()],
            auth_time: 0,
            sid: "s".into(),
            withheld: vec![],
        }
    }

    #[tokio::test]
    async fn codes_are_single_use_and_replays_name_the_grant() {
        let e = Ephemeral::memory();
        let code = issue(&e, &record(), 60, 0).await.unwrap();
        let Redemption::Fresh(_, grant) = redeem(&e, &code, 1).await.unwrap() else {
            panic!("first use")
        };
        match redeem(&e, &code, 30).await.unwrap() {
            Redemption::Replayed(g) => assert_eq!(g, grant),
            other => panic!("{other:?}"),
        }
        assert!(matches!(redeem(&e, "nope", 1).await.unwrap(), Redemption::Unknown));
    }

    #[tokio::test]
    async fn codes_expire() {
        let e = Ephemeral::memory();
        let code = issue(&e, &record(), 60, 0).await.unwrap();
        assert!(matches!(redeem(&e, &code, 61).await.unwrap(), Redemption::Unknown));
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
