//! Signing keys, generated on first start and by `keys rotate`, stored as files or sealed in
//! the database (`source`). The newest key of each algorithm signs; older keys stay published
//! until every token they signed has expired. Running nodes re-read the storage periodically, so
//! a rotation reaches every node without a restart.

pub mod jws;
pub mod source;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::config::SigningAlg;
use crate::secret::random_token;
use jws::{JwsError, PrivateKey, PublicKey, Unverified};
pub use source::KeySource;

/// One signing key with its identity.
pub struct SigningKey {
    /// The `kid` in headers and the JWKS; also the file name.
    pub kid: String,
    /// The algorithm it signs with.
    pub alg: SigningAlg,
    /// When it was created (taken from the kid).
    pub created_at: Timestamp,
    private: PrivateKey,
    /// The public half, as published.
    pub public: PublicKey,
}

/// How a key is used now, for `keys list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens.
    Active,
    /// No longer signs, still published to verify tokens it signed.
    Published,
    /// Neither signs nor is published.
    Retired,
}

/// All keys loaded from the directory, newest first.
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// The key that signs with `alg` now.
    pub fn active(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.alg == alg)
    }

    /// What `key` is used for at `now`.
    pub fn status(&self, key: &SigningKey, now: Timestamp, retention: i64) -> KeyStatus {
        let successor = self
            .keys
            .iter()
            .filter(|k| k.alg == key.alg && k.created_at > key.created_at)
            .map(|k| k.created_at)
            .min();
        match successor {
            None if self.active(key.alg).is_some_and(|a| a.kid == key.kid) => KeyStatus::Active,
            Some(t) if t + retention > now => KeyStatus::Published,
            None => KeyStatus::Published,
            Some(_) => KeyStatus::Retired,
        }
    }

    /// The keys with their status, newest first.
    pub fn list(&self, now: Timestamp, retention: i64) -> Vec<(Arc<SigningKey>, KeyStatus)> {
        self.keys.iter().map(|k| (k.clone(), self.status(k, now, retention))).collect()
    }

    /// The JWK Set document: public members of every active or published key.
    pub fn jwks(&self, now: Timestamp, retention: i64) -> Value {
        let keys: Vec<Value> = self
            .list(now, retention)
            .into_iter()
            .filter(|(_, s)| *s != KeyStatus::Retired)
            .map(|(k, _)| {
                let mut m = k.public.jwk_members();
                m.insert("kid".into(), k.kid.clone().into());
                m.insert("use".into(), "sig".into());
                m.insert("alg".into(), k.alg.as_str().into());
                Value::Object(m)
            })
            .collect();
        json!({ "keys": keys })
    }

    fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Why keys could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// File-system trouble in the keys directory.
    #[error("keys directory {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A key file that is not a usable key.
    #[error("key file {0}: {1}")]
    Invalid(PathBuf, String),
    /// No key for the algorithm (should not happen after `open`).
    #[error("no active {0} key")]
    Missing(&'static str),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] JwsError),
    /// No key with this id.
    #[error("no key {0}")]
    Unknown(String),
}

/// The node's key store: where keys live, the keys loaded from there, and which algorithm
/// signs access tokens.
#[derive(Clone)]
pub struct Keys {
    source: KeySource,
    set: Arc<RwLock<Arc<KeySet>>>,
    access_alg: SigningAlg,
    retention: i64,
}

impl Keys {
    /// Loads the keys, generating those that are missing (RS256 always, ES256 when it signs
    /// access tokens).
    pub async fn open(source: KeySource, access_alg: SigningAlg, retention: i64, now: Timestamp) -> Result<Keys, KeyError> {
        source.prepare()?;
        let mut set = load(&source).await?;
        let mut wanted = vec![SigningAlg::RS256];
        if access_alg == SigningAlg::ES256 {
            wanted.push(SigningAlg::ES256);
        }
        let mut generated = false;
        for alg in wanted {
            if set.active(alg).is_none() {
                let name = alg.as_str().to_lowercase();
                if source.claim_first(&name, now).await? {
                    generate(&source, alg, now).await?;
                } else {
                    source.wait_for_first(&name).await?;
                }
                generated = true;
            }
        }
        if generated {
            set = load(&source).await?;
        }
        Ok(Keys {
            source,
            set: Arc::new(RwLock::new(Arc::new(set))),
            access_alg,
            retention,
        })
    }

    /// Adds a new key for every algorithm in use and makes it the signing key. Returns the new
    /// key ids.
    pub async fn rotate(&self, now: Timestamp) -> Result<Vec<String>, KeyError> {
        let algs: Vec<SigningAlg> = {
            let set = self.current();
            [SigningAlg::RS256, SigningAlg::ES256]
                .into_iter()
                .filter(|a| set.active(*a).is_some())
                .collect()
        };
        let mut kids = Vec::new();
        for alg in algs {
            kids.push(generate(&self.source, alg, now).await?);
        }
        self.reload().await?;
        Ok(kids)
    }

    /// Re-reads the storage when its set of keys changed (picks up keys another process added).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let stored = self.source.kids().await?;
        let mut loaded: Vec<String> = self.current().keys.iter().map(|k| k.kid.clone()).collect();
        loaded.sort();
        if stored == loaded {
            return Ok(());
        }
        let fresh = Arc::new(load(&self.source).await?);
        if let Ok(mut guard) = self.set.write() {
            *guard = fresh;
        }
        Ok(())
    }

    /// The keys loaded now.
    pub fn current(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// How long retired keys stay published.
    pub fn retention(&self) -> i64 {
        self.retention
    }

    /// The published JWK Set at `now`.
    pub fn jwks(&self, now: Timestamp) -> Value {
        self.current().jwks(now, self.retention)
    }

    /// Signs an ID token (always RS256, the algorithm every RP supports).
    pub fn sign_id_token<C: Serialize>(&self, claims: &C) -> Result<String, KeyError> {
        self.sign(SigningAlg::RS256, "JWT", claims)
    }

    /// Signs a logout token (Back-Channel Logout 1.0, `typ` `logout+jwt`), RS256 like ID tokens.
    pub fn sign_logout_token<C: Serialize>(&self, claims: &C) -> Result<String, KeyError> {
        self.sign(SigningAlg::RS256, "logout+jwt", claims)
    }

    /// Signs a client assertion for an upstream's token endpoint (RFC 7523), RS256, with a `typ`
    /// of its own (draft-ietf-oauth-rfc7523bis), so it can never pass for an ID token of ours.
    pub fn sign_client_assertion<C: Serialize>(&self, claims: &C) -> Result<String, KeyError> {
        self.sign(SigningAlg::RS256, "client-authentication+jwt", claims)
    }

    /// Signs an access token (RFC 9068 `at+jwt`) with the configured algorithm.
    pub fn sign_access_token<C: Serialize>(&self, claims: &C) -> Result<String, KeyError> {
        self.sign(self.access_alg, "at+jwt", claims)
    }

    fn sign<C: Serialize>(&self, alg: SigningAlg, typ: &str, claims: &C) -> Result<String, KeyError> {
        let set = self.current();
        let key = set.active(alg).ok_or(KeyError::Missing(alg.as_str()))?;
        Ok(jws::sign(&key.private, alg, &key.kid, typ, claims)?)
    }

    /// Verifies a JWS signed by one of our keys that is active or still published at `now`
    /// (R-SEC-5: a retired key verifies nothing; signature only, the caller checks claims).
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<(Option<String>, Value), JwsError> {
        let parsed = Unverified::parse(token)?;
        let typ = parsed.typ().map(str::to_owned);
        let set = self.current();
        let key = parsed
            .kid()
            .and_then(|kid| set.find(kid))
            .filter(|k| set.status(k, now, self.retention) != KeyStatus::Retired)
            .ok_or(JwsError::UnknownKey)?;
        Ok((typ, parsed.verify(&key.public)?))
    }

    /// Revokes a key at once (R-SEC-5): it leaves the storage, so it verifies nothing and leaves
    /// the JWKS, on every node with its next reload. An active key is replaced by a new one of
    /// its algorithm first, so signing goes on. Returns the new key id, if one was made.
    pub async fn revoke(&self, kid: &str, now: Timestamp) -> Result<Option<String>, KeyError> {
        let set = self.current();
        let key = set.find(kid).ok_or_else(|| KeyError::Unknown(kid.to_string()))?;
        let successor = if set.active(key.alg).is_some_and(|a| a.kid == kid) {
            Some(generate(&self.source, key.alg, now).await?)
        } else {
            None
        };
        self.source.delete(kid).await?;
        self.reload().await?;
        Ok(successor)
    }
}

async fn load(source: &KeySource) -> Result<KeySet, KeyError> {
    let mut keys = Vec::new();
    for (kid, der) in source.load().await? {
        let Some((alg, created_at)) = parse_kid(&kid) else { continue };
        let private = PrivateKey::from_pkcs8(alg, &der).map_err(|e| KeyError::Invalid(PathBuf::from(&kid), e))?;
        let public = private.public_key();
        keys.push(Arc::new(SigningKey {
            kid,
            alg,
            created_at,
            private,
            public,
        }));
    }
    keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.kid.cmp(&a.kid)));
    Ok(KeySet { keys })
}

/// Key ids read `<alg>-<created unix seconds>-<random>`.
fn parse_kid(kid: &str) -> Option<(SigningAlg, Timestamp)> {
    let mut parts = kid.splitn(3, '-');
    let alg = match parts.next()? {
        "rs256" => SigningAlg::RS256,
        "es256" => SigningAlg::ES256,
        _ => return None,
    };
    let created = Timestamp(parts.next()?.parse().ok()?);
    parts.next()?;
    Some((alg, created))
}

async fn generate(source: &KeySource, alg: SigningAlg, now: Timestamp) -> Result<String, KeyError> {
    let kid = format!("{}-{now}-{}", alg.as_str().to_lowercase(), random_token(6));
    let invalid = |e: String| KeyError::Invalid(PathBuf::from(&kid), e);
    // Key generation is slow (~100 ms for RSA); keep it off the async workers.
    let der = tokio::task::spawn_blocking(move || new_private_key(alg))
        .await
        .map_err(|e| invalid(e.to_string()))?
        .map_err(invalid)?;
    source.save(&kid, &der, now).await?;
    Ok(kid)
}

/// A new private key for `alg` as PKCS#8 DER (blocking: RSA generation takes ~100 ms).
pub fn new_private_key(alg: SigningAlg) -> Result<Vec<u8>, String> {
    match alg {
        SigningAlg::RS256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
            Ok(key.to_pkcs8_der().map_err(|e| e.to_string())?.as_bytes().to_vec())
        }
        SigningAlg::ES256 => aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sk-keys-{name}-{}", random_token(6)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn first_open_generates_private_files_and_rotation_keeps_old_key_published() {
        let dir = temp_dir("rot");
        let keys = Keys::open(KeySource::Dir(dir.clone()), SigningAlg::ES256, 600, Timestamp(1_000))
            .await
            .unwrap();
        let set = keys.current();
        assert!(set.active(SigningAlg::RS256).is_some());
        assert!(set.active(SigningAlg::ES256).is_some());
        #[cfg(unix)]
        for f in std::fs::read_dir(&dir).unwrap() {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(f.unwrap().metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
        let old_token = keys.sign_access_token(&json!({"sub": "x"})).unwrap();
        let new = keys.rotate(Timestamp(2_000)).await.unwrap();
        assert_eq!(new.len(), 2);
        let set = keys.current();
        assert!(new.contains(&set.active(SigningAlg::ES256).unwrap().kid));
        assert_eq!(set.jwks(Timestamp(2_100), 600)["keys"].as_array().unwrap().len(), 4);
        assert!(keys.verify(&old_token, Timestamp(2_100)).is_ok());
        assert_eq!(set.jwks(Timestamp(2_700), 600)["keys"].as_array().unwrap().len(), 2);
        let jwks = set.jwks(Timestamp(2_100), 600).to_string();
        assert!(!jwks.contains("\"d\""), "private members never published");
    }

    #[tokio::test]
    async fn client_assertions_carry_a_typ_of_their_own() {
        let keys = Keys::open(KeySource::Dir(temp_dir("typ")), SigningAlg::RS256, 600, Timestamp(1_000))
            .await
            .unwrap();
        let assertion = keys.sign_client_assertion(&json!({"iss": "sk"})).unwrap();
        let (typ, _) = keys.verify(&assertion, Timestamp(1_000)).unwrap();
        assert_eq!(typ.as_deref(), Some("client-authentication+jwt"));
        let (typ, _) = keys
            .verify(&keys.sign_id_token(&json!({"iss": "sk"})).unwrap(), Timestamp(1_000))
            .unwrap();
        assert_eq!(typ.as_deref(), Some("JWT"));
    }

    #[tokio::test]
    async fn r_sec_5_a_retired_key_verifies_nothing() {
        let keys = Keys::open(KeySource::Dir(temp_dir("ret")), SigningAlg::RS256, 600, Timestamp(1_000))
            .await
            .unwrap();
        let old_token = keys.sign_access_token(&json!({"sub": "x"})).unwrap();
        keys.rotate(Timestamp(2_000)).await.unwrap();
        assert!(keys.verify(&old_token, Timestamp(2_599)).is_ok(), "still published");
        assert!(
            keys.verify(&old_token, Timestamp(2_601)).is_err(),
            "retired: loaded, but verifies nothing"
        );
    }

    #[tokio::test]
    async fn r_sec_5_a_revoked_key_verifies_nothing_and_leaves_the_jwks_and_an_active_one_is_replaced() {
        let dir = temp_dir("rev");
        let keys = Keys::open(KeySource::Dir(dir.clone()), SigningAlg::RS256, 600, Timestamp(1_000))
            .await
            .unwrap();
        let token = keys.sign_access_token(&json!({"sub": "x"})).unwrap();
        let kid = keys.current().active(SigningAlg::RS256).unwrap().kid.clone();
        let successor = keys.revoke(&kid, Timestamp(1_100)).await.unwrap().unwrap();
        assert!(keys.verify(&token, Timestamp(1_101)).is_err());
        let set = keys.current();
        assert_eq!(set.active(SigningAlg::RS256).unwrap().kid, successor);
        assert!(!set.jwks(Timestamp(1_101), 600).to_string().contains(&kid));
        assert!(!dir.join(format!("{kid}.pem")).exists(), "gone from the storage");
        assert!(keys.sign_id_token(&json!({"sub": "x"})).is_ok(), "signing goes on");
        assert!(matches!(
            keys.revoke("rs256-1-nope", Timestamp(1_200)).await,
            Err(KeyError::Unknown(_))
        ));
    }
}
