//! Signing keys: one PEM file per key id in the keys directory, generated on first start and
//! by `keys rotate`. The newest key of each algorithm signs; older keys stay published until
//! every token they signed has expired. Running nodes re-read the directory periodically, so a
//! rotation reaches them without a restart.

pub mod jws;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::config::SigningAlg;
use crate::secret::random_token;
use jws::{JwsError, PrivateKey, PublicKey, Unverified};

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
}

/// The node's key store: the directory, the keys loaded from it, and which algorithm signs
/// access tokens.
#[derive(Clone)]
pub struct Keys {
    dir: PathBuf,
    set: Arc<RwLock<Arc<KeySet>>>,
    access_alg: SigningAlg,
    retention: i64,
}

impl Keys {
    /// Loads the directory, generating the keys that are missing (RS256 always, ES256 when it
    /// signs access tokens).
    pub fn open(dir: &Path, access_alg: SigningAlg, retention: i64, now: Timestamp) -> Result<Keys, KeyError> {
        ensure_dir(dir)?;
        let mut set = load_dir(dir)?;
        let mut wanted = vec![SigningAlg::RS256];
        if access_alg == SigningAlg::ES256 {
            wanted.push(SigningAlg::ES256);
        }
        let mut generated = false;
        for alg in wanted {
            if set.active(alg).is_none() {
                generate(dir, alg, now)?;
                generated = true;
            }
        }
        if generated {
            set = load_dir(dir)?;
        }
        Ok(Keys {
            dir: dir.to_path_buf(),
            set: Arc::new(RwLock::new(Arc::new(set))),
            access_alg,
            retention,
        })
    }

    /// Adds a new key for every algorithm in use and makes it the signing key. Returns the new
    /// key ids.
    pub fn rotate(&self, now: Timestamp) -> Result<Vec<String>, KeyError> {
        let algs: Vec<SigningAlg> = {
            let set = self.current();
            [SigningAlg::RS256, SigningAlg::ES256]
                .into_iter()
                .filter(|a| set.active(*a).is_some())
                .collect()
        };
        let kids = algs
            .into_iter()
            .map(|alg| generate(&self.dir, alg, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.reload()?;
        Ok(kids)
    }

    /// Re-reads the directory when its key files changed (picks up keys another process added).
    pub fn reload(&self) -> Result<(), KeyError> {
        let mut on_disk: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| KeyError::Io(self.dir.clone(), e))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".pem").map(str::to_owned))
            .filter(|kid| parse_kid(kid).is_some())
            .collect();
        on_disk.sort();
        let mut loaded: Vec<String> = self.current().keys.iter().map(|k| k.kid.clone()).collect();
        loaded.sort();
        if on_disk == loaded {
            return Ok(());
        }
        let fresh = Arc::new(load_dir(&self.dir)?);
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

    /// Signs an access token (RFC 9068 `at+jwt`) with the configured algorithm.
    pub fn sign_access_token<C: Serialize>(&self, claims: &C) -> Result<String, KeyError> {
        self.sign(self.access_alg, "at+jwt", claims)
    }

    fn sign<C: Serialize>(&self, alg: SigningAlg, typ: &str, claims: &C) -> Result<String, KeyError> {
        let set = self.current();
        let key = set.active(alg).ok_or(KeyError::Missing(alg.as_str()))?;
        Ok(jws::sign(&key.private, alg, &key.kid, typ, claims)?)
    }

    /// Verifies a JWS signed by one of our keys (signature only; the caller checks claims).
    pub fn verify(&self, token: &str) -> Result<(Option<String>, Value), JwsError> {
        let parsed = Unverified::parse(token)?;
        let typ = parsed.typ().map(str::to_owned);
        let set = self.current();
        let key = parsed.kid().and_then(|kid| set.find(kid)).ok_or(JwsError::UnknownKey)?;
        Ok((typ, parsed.verify(&key.public)?))
    }
}

fn ensure_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(dir.into(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| KeyError::Io(dir.into(), e))?;
    }
    Ok(())
}

fn load_dir(dir: &Path) -> Result<KeySet, KeyError> {
    let mut keys = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| KeyError::Io(dir.into(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| KeyError::Io(dir.into(), e))?.path();
        let Some(kid) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".pem")) else {
            continue;
        };
        let Some((alg, created_at)) = parse_kid(kid) else { continue };
        let pem = std::fs::read_to_string(&path).map_err(|e| KeyError::Io(path.clone(), e))?;
        let der = pem_decode(&pem).ok_or_else(|| KeyError::Invalid(path.clone(), "not a PEM private key".into()))?;
        let private = PrivateKey::from_pkcs8(alg, &der).map_err(|e| KeyError::Invalid(path.clone(), e))?;
        let public = private.public_key();
        keys.push(Arc::new(SigningKey {
            kid: kid.to_string(),
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
    let created = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((alg, created))
}

fn generate(dir: &Path, alg: SigningAlg, now: Timestamp) -> Result<String, KeyError> {
    let kid = format!("{}-{now}-{}", alg.as_str().to_lowercase(), random_token(6));
    let path = dir.join(format!("{kid}.pem"));
    let der = match alg {
        SigningAlg::RS256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| KeyError::Invalid(path.clone(), e.to_string()))?;
            key.to_pkcs8_der()
                .map_err(|e| KeyError::Invalid(path.clone(), e.to_string()))?
                .as_bytes()
                .to_vec()
        }
        SigningAlg::ES256 => {
            let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &aws_lc_rs::rand::SystemRandom::new(),
            )
            .map_err(|e| KeyError::Invalid(path.clone(), e.to_string()))?;
            doc.as_ref().to_vec()
        }
    };
    let pem = pem_encode(&der);
    // Written under a temporary name and renamed, so a node reloading the directory never
    // reads half a key.
    let tmp = dir.join(format!(".{kid}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| KeyError::Io(tmp.clone(), e))?;
    file.write_all(pem.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| KeyError::Io(tmp.clone(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| KeyError::Io(path.clone(), e))?;
    Ok(kid)
}

fn pem_encode(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sk-keys-{name}-{}", random_token(6)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn first_open_generates_private_files_and_rotation_keeps_old_key_published() {
        let dir = temp_dir("rot");
        let keys = Keys::open(&dir, SigningAlg::ES256, 600, 1_000).unwrap();
        let set = keys.current();
        assert!(set.active(SigningAlg::RS256).is_some());
        assert!(set.active(SigningAlg::ES256).is_some());
        #[cfg(unix)]
        for f in std::fs::read_dir(&dir).unwrap() {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(f.unwrap().metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
        let old_token = keys.sign_access_token(&json!({"sub": "x"})).unwrap();
        let new = keys.rotate(2_000).unwrap();
        assert_eq!(new.len(), 2);
        let set = keys.current();
        assert!(new.contains(&set.active(SigningAlg::ES256).unwrap().kid));
        assert_eq!(set.jwks(2_100, 600)["keys"].as_array().unwrap().len(), 4);
        assert!(keys.verify(&old_token).is_ok());
        assert_eq!(set.jwks(2_700, 600)["keys"].as_array().unwrap().len(), 2);
        let jwks = set.jwks(2_100, 600).to_string();
        assert!(!jwks.contains("\"d\""), "private members never published");
    }
}
