//! Server secrets at start (R-SEC-7): read from configuration, the environment or the secrets
//! file, never from the database that holds what they protect; checked against the fingerprints
//! of the versions this installation has used, so a missing or changed secret stops the start
//! instead of being replaced (docs/decisions/0018).

use std::collections::BTreeMap;
use std::path::Path;

use crate::clock::Timestamp;
use crate::config::{SECRET_NAMES, SecretsConfig};
use crate::secret::{KeyRing, Secret, b64};
use crate::store::{Store, StoreError};

/// Every server secret of a node.
#[derive(Debug, Clone)]
pub struct ServerSecrets {
    /// Keys the stored HMAC of client secrets.
    pub client_secret_pepper: KeyRing,
    /// Derives pairwise subjects, per client version.
    pub pairwise_subject_key: KeyRing,
    /// Keys CSRF tokens.
    pub csrf_key: KeyRing,
    /// Derives the stored hash of eID pseudonyms (one version).
    pub eid_pseudonym_key: KeyRing,
    /// Seals staff TOTP seeds.
    pub staff_totp_key: KeyRing,
}

/// Why the secrets do not allow a start.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A version that stored data needs is configured nowhere.
    #[error(
        "server secret {name} version {version} is in use but not configured: set [secrets].{name} or SERVICEKONTO_SECRET_{} to the value this installation uses (it is not stored in the database and cannot be regenerated)",
        .name.to_ascii_uppercase()
    )]
    Missing { name: &'static str, version: u32 },
    /// A configured version has another value than the one this installation used.
    #[error(
        "server secret {name} version {version} differs from the value this installation uses; restore it, or add a new version and keep the old one while it is needed"
    )]
    Changed { name: &'static str, version: u32 },
    /// The secrets file cannot be read or written.
    #[error("secrets file {path}: {reason}")]
    File { path: String, reason: String },
    /// A configured value is malformed.
    #[error("server secret {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// Database trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServerSecrets {
    /// Resolves every secret and checks it against what the installation has used. A name given
    /// neither in configuration nor the environment comes from the secrets file; the file gets a
    /// new value only for a name this installation never used (first start), or the value a
    /// release before R-SEC-7 kept in the database, which is then removed from there.
    pub async fn load(config: &SecretsConfig, store: &Store, now: Timestamp) -> Result<ServerSecrets, SecretError> {
        let mut file = SecretsFile::read(&config.file)?;
        let mut rings = BTreeMap::new();
        for name in SECRET_NAMES {
            let legacy = store.legacy_secret(name).await?;
            if let Some(value) = &legacy {
                // Releases before R-SEC-7 used the database's value unversioned: it is version 1.
                let ring = KeyRing::new([(1, value.clone())]).map_err(|reason| SecretError::Invalid { name, reason })?;
                if let Some(fp) = ring.fingerprint(1) {
                    store.record_secret_version(name, 1, &fp, now).await?;
                }
            }
            let mut entries = config.entries(name).to_vec();
            if entries.is_empty() {
                entries = file.entries(name);
            }
            if entries.is_empty() {
                let recorded = store.secret_versions(name).await?;
                let entry = match (&legacy, recorded.first()) {
                    (Some(value), _) => format!("1:{}", b64(value)),
                    (None, None) => KeyRing::generate_entry(),
                    (None, Some((version, _))) => {
                        return Err(SecretError::Missing { name, version: *version });
                    }
                };
                tracing::warn!(secret = name, file = %config.file.display(), "server secret kept in the secrets file; configure it for production");
                file.set(name, entry.clone());
                file.write(&config.file)?;
                entries = vec![Secret::new(entry)];
            }
            let ring = KeyRing::parse(&entries).map_err(|reason| SecretError::Invalid { name, reason })?;
            check(store, name, &ring, now).await?;
            if legacy.is_some() {
                store.drop_legacy_secret(name).await?;
            }
            rings.insert(name, ring);
        }
        let mut take = |name: &'static str| {
            rings.remove(name).ok_or(SecretError::Invalid {
                name,
                reason: "missing".into(),
            })
        };
        Ok(ServerSecrets {
            client_secret_pepper: take("client_secret_pepper")?,
            pairwise_subject_key: take("pairwise_subject_key")?,
            csrf_key: take("csrf_key")?,
            eid_pseudonym_key: take("eid_pseudonym_key")?,
            staff_totp_key: take("staff_totp_key")?,
        })
    }
}

/// Every configured version must match its recorded fingerprint (new ones are recorded), and
/// every version stored data needs must be configured.
async fn check(store: &Store, name: &'static str, ring: &KeyRing, now: Timestamp) -> Result<(), SecretError> {
    for (version, _) in ring.versions() {
        let Some(fp) = ring.fingerprint(version) else { continue };
        let recorded = store.record_secret_version(name, version, &fp, now).await?;
        if !crate::secret::constant_time_eq(recorded.as_bytes(), fp.as_bytes()) {
            return Err(SecretError::Changed { name, version });
        }
    }
    let configured: Vec<u32> = ring.versions().map(|(v, _)| v).collect();
    if let Some(version) = store
        .secret_versions_in_use(name)
        .await?
        .into_iter()
        .find(|v| !configured.contains(v))
    {
        return Err(SecretError::Missing { name, version });
    }
    Ok(())
}

/// The secrets file: the `[secrets]` names as a TOML table, written with mode 0600.
#[derive(Default)]
struct SecretsFile {
    table: BTreeMap<String, Vec<String>>,
}

impl SecretsFile {
    fn read(path: &Path) -> Result<SecretsFile, SecretError> {
        let err = |reason: String| SecretError::File {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(SecretsFile {
                table: toml::from_str(&text).map_err(|e| err(e.to_string()))?,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SecretsFile::default()),
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn entries(&self, name: &str) -> Vec<Secret<String>> {
        self.table
            .get(name)
            .map(|v| v.iter().cloned().map(Secret::new).collect())
            .unwrap_or_default()
    }

    fn set(&mut self, name: &str, entry: String) {
        self.table.insert(name.to_string(), vec![entry]);
    }

    fn write(&self, path: &Path) -> Result<(), SecretError> {
        let err = |reason: String| SecretError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = toml::to_string(&self.table).map_err(|e| err(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| err(e.to_string()))?;
        std::io::Write::write_all(
            &mut f,
            format!("# Server secrets (R-SEC-7). Back this file up; never commit it.\n{text}").as_bytes(),
        )
        .map_err(|e| err(e.to_string()))?;
        f.sync_all().map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }
}
