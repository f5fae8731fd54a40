//! Links sent by mail: what they are for, how long they live, and where they point. The link
//! carries a random token; only its hash is stored, and each link works once.

use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::paths;
use crate::secret::{random_token, sha256_b64};
use crate::store::{Store, StoreError};

pub use crate::model::account::{LinkPurpose, StoredLink};

/// Activation links live 24 hours (R-REG-4).
pub const ACTIVATION_SECONDS: i64 = 24 * 3600;
/// Reset links live one hour (R-SES-4).
pub const RESET_SECONDS: i64 = 3600;
/// Email-change confirmations live 24 hours.
pub const EMAIL_CHANGE_SECONDS: i64 = 24 * 3600;
/// Block links work for 30 days: long enough to react to a mail read late.
pub const BLOCK_SECONDS: i64 = 30 * 24 * 3600;

/// The stored form of a link token.
pub fn token_hash(token: &str) -> String {
    sha256_b64(format!("link|{token}").as_bytes())
}

/// Whether a token from a URL can be one of ours at all (cheap check before any lookup).
pub fn plausible(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores a new link and returns its token.
pub async fn issue(
    store: &Store,
    account_id: &AccountId,
    purpose: LinkPurpose,
    payload: Option<String>,
    lifetime: i64,
    now: Timestamp,
) -> Result<String, StoreError> {
    let token = random_token(32);
    let link = StoredLink {
        account_id: account_id.clone(),
        purpose,
        payload,
        expires_at: now + lifetime,
    };
    store.insert_link(&token_hash(&token), &link, now).await?;
    Ok(token)
}

/// Absolute URLs of the pages links lead to.
#[derive(Debug, Clone)]
pub struct Urls {
    issuer: String,
}

impl Urls {
    /// URLs under `issuer`.
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_string(),
        }
    }

    /// `path` with a token.
    pub fn with_token(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.issuer)
    }

    /// `path` without parameters.
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// A fresh block link for the account (R-SES-6), for mails about sensitive changes.
    pub async fn block_link(&self, store: &Store, account_id: &AccountId, now: Timestamp) -> Result<String, StoreError> {
        let token = issue(store, account_id, LinkPurpose::Block, None, BLOCK_SECONDS, now).await?;
        Ok(self.with_token(paths::BLOCK, &token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_tokens_are_checked_cheaply() {
        for p in [LinkPurpose::Reset, LinkPurpose::EmailChange, LinkPurpose::Block] {
            assert_eq!(LinkPurpose::parse(p.as_str()), Some(p));
        }
        assert!(plausible(&random_token(32)));
        assert!(!plausible("short"));
        assert!(!plausible(&"a".repeat(42).replace('a', "<")));
    }
}
