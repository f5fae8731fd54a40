//! Where signing keys live: PEM files in the keys directory (one node), or the database, sealed
//! with a key-encryption key from configuration (several nodes; docs/decisions/0010).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};

use super::KeyError;
use crate::clock::Timestamp;
use crate::secret::{b64, b64_decode};
use crate::store::Store;

/// The storage of signing keys.
#[derive(Clone)]
pub enum KeySource {
    /// `<dir>/<kid>.pem`, mode 0600 in a 0700 directory.
    Dir(PathBuf),
    /// The `signing_keys` table, each key sealed with AES-256-GCM under the key-encryption key.
    Database {
        /// The database.
        store: Store,
        /// The key-encryption key.
        kek: Arc<LessSafeKey>,
    },
}

fn db_err(e: crate::store::StoreError) -> KeyError {
    KeyError::Invalid(PathBuf::from("signing_keys"), e.to_string())
}

impl KeySource {
    /// Keys in the database, sealed with `kek` (32 bytes).
    pub fn database(store: Store, kek: &[u8]) -> Result<KeySource, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, kek)
            .map_err(|_| KeyError::Invalid(PathBuf::from("key_encryption_key"), "must be 32 bytes".into()))?;
        Ok(KeySource::Database {
            store,
            kek: Arc::new(LessSafeKey::new(key)),
        })
    }

    /// The stored key ids, sorted.
    pub async fn kids(&self) -> Result<Vec<String>, KeyError> {
        let mut kids = match self {
            KeySource::Dir(dir) => std::fs::read_dir(dir)
                .map_err(|e| KeyError::Io(dir.clone(), e))?
                .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".pem").map(str::to_owned))
                .collect(),
            KeySource::Database { store, .. } => store.signing_key_ids().await.map_err(db_err)?,
        };
        kids.retain(|k| super::parse_kid(k).is_some());
        kids.sort();
        Ok(kids)
    }

    /// Every key as (kid, PKCS#8 DER).
    pub async fn load(&self) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
        let mut out = Vec::new();
        match self {
            KeySource::Dir(dir) => {
                for kid in self.kids().await? {
                    let path = dir.join(format!("{kid}.pem"));
                    let pem = std::fs::read_to_string(&path).map_err(|e| KeyError::Io(path.clone(), e))?;
                    out.push((
                        kid,
                        pem_decode(&pem).ok_or_else(|| KeyError::Invalid(path, "not a PEM private key".into()))?,
                    ));
                }
            }
            KeySource::Database { store, kek } => {
                for (kid, sealed) in store.signing_keys().await.map_err(db_err)? {
                    let der = open(kek, &kid, &sealed).ok_or_else(|| {
                        KeyError::Invalid(
                            PathBuf::from(&kid),
                            "cannot be opened with the configured key_encryption_key".into(),
                        )
                    })?;
                    out.push((kid, der));
                }
            }
        }
        Ok(out)
    }

    /// Stores a new key.
    pub async fn save(&self, kid: &str, der: &[u8], now: Timestamp) -> Result<(), KeyError> {
        match self {
            KeySource::Dir(dir) => write_pem(dir, kid, der),
            KeySource::Database { store, kek } => {
                let sealed = seal(kek, kid, der)?;
                store.insert_signing_key(kid, now, &sealed).await.map_err(db_err)
            }
        }
    }

    /// Removes a key from the storage (revocation).
    pub async fn delete(&self, kid: &str) -> Result<(), KeyError> {
        match self {
            KeySource::Dir(dir) => {
                let path = dir.join(format!("{kid}.pem"));
                std::fs::remove_file(&path).map_err(|e| KeyError::Io(path, e))
            }
            KeySource::Database { store, .. } => store.delete_signing_key(kid).await.map_err(db_err),
        }
    }

    /// Whether this process may create the first key of `alg`. Nodes starting together on one
    /// database must not each create one: exactly one wins the claim, the others wait for its
    /// key (`wait_for_first`). A directory belongs to one node, which always may.
    pub async fn claim_first(&self, alg: &str, now: Timestamp) -> Result<bool, KeyError> {
        match self {
            KeySource::Dir(_) => Ok(true),
            KeySource::Database { store, .. } => store
                .claim_once(&format!("claim:first-signing-key:{alg}"), now)
                .await
                .map_err(db_err),
        }
    }

    /// Waits until another node has stored the first key of `alg`.
    pub async fn wait_for_first(&self, alg: &str) -> Result<(), KeyError> {
        let prefix = format!("{alg}-");
        for _ in 0..300 {
            if self.kids().await?.iter().any(|k| k.starts_with(&prefix)) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(KeyError::Invalid(
            PathBuf::from("signing_keys"),
            format!(
                "another node claimed the first {alg} key but did not store it within 30 s; remove the server_secrets row claim:first-signing-key:{alg} and restart"
            ),
        ))
    }

    /// Prepares the storage (the directory with its permissions).
    pub fn prepare(&self) -> Result<(), KeyError> {
        if let KeySource::Dir(dir) = self {
            std::fs::create_dir_all(dir).map_err(|e| KeyError::Io(dir.clone(), e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| KeyError::Io(dir.clone(), e))?;
            }
        }
        Ok(())
    }
}

fn seal(kek: &LessSafeKey, kid: &str, der: &[u8]) -> Result<String, KeyError> {
    crate::secret::seal_with(kek, kid.as_bytes(), der)
        .map(|sealed| b64(&sealed))
        .ok_or_else(|| KeyError::Invalid(PathBuf::from(kid), "sealing failed".into()))
}

fn open(kek: &LessSafeKey, kid: &str, sealed: &str) -> Option<Vec<u8>> {
    crate::secret::open_with(kek, kid.as_bytes(), &b64_decode(sealed)?)
}

fn write_pem(dir: &Path, kid: &str, der: &[u8]) -> Result<(), KeyError> {
    let path = dir.join(format!("{kid}.pem"));
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
    file.write_all(pem_encode(der).as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| KeyError::Io(tmp.clone(), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| KeyError::Io(path.clone(), e))
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

    #[test]
    fn sealed_keys_open_only_with_the_same_kek_and_kid() {
        let kek = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
        let sealed = seal(&kek, "rs256-1-a", b"secret der").unwrap();
        assert_eq!(open(&kek, "rs256-1-a", &sealed).unwrap(), b"secret der");
        assert!(open(&kek, "rs256-1-b", &sealed).is_none(), "moved to another kid");
        let other = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[8u8; 32]).unwrap());
        assert!(open(&other, "rs256-1-a", &sealed).is_none(), "another kek");
        assert!(!sealed.contains("secret"));
    }
}
