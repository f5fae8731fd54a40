//! Secrets that must never reach a log or leak through timing: a wrapper with a redacted
//! `Debug`, random tokens, constant-time comparison and keyed hashes.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// A value that is sensitive: `Debug` prints `[redacted]`, and reading it is explicit.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a sensitive value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Reads the sensitive value; every call site is a place where it may leave.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The system RNG only fails when the OS has no entropy source at all; there is no
    // safe way to go on issuing credentials then.
    #[allow(clippy::expect_used)]
    SystemRandom::new().fill(&mut buf).expect("operating system random source");
    buf
}

/// A URL-safe random token carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    b64(&random_bytes(bytes))
}

/// Base64url without padding, the encoding of every token and JWS part.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url without padding; `None` for anything else.
pub fn b64_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data).ok()
}

/// Compares two secrets without revealing where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// SHA-256 of `data`, base64url: the stored form of high-entropy tokens (refresh tokens,
/// codes), which need no slow hash because they cannot be guessed.
pub fn sha256_b64(data: &[u8]) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

/// HMAC-SHA-256 of `data` under `key`, base64url.
pub fn hmac_b64(key: &[u8], data: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    b64(hmac::sign(&key, data).as_ref())
}

/// One server secret in every configured version (R-SEC-7): the highest version tags new
/// values, every version still verifies what it tagged, so a secret rotates without breaking
/// what is stored.
#[derive(Clone)]
pub struct KeyRing {
    versions: std::sync::Arc<std::collections::BTreeMap<u32, Vec<u8>>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing(versions {:?}, [redacted])", self.versions.keys().collect::<Vec<_>>())
    }
}

/// The shortest server secret accepted: HMAC-SHA-256 keys are as strong as 32 bytes allow.
pub const MIN_SECRET_BYTES: usize = 32;

impl KeyRing {
    /// A ring from `(version, key)` pairs; `None` when empty, a version repeats or a key is short.
    pub fn new(pairs: impl IntoIterator<Item = (u32, Vec<u8>)>) -> Result<KeyRing, String> {
        let mut versions = std::collections::BTreeMap::new();
        for (version, key) in pairs {
            if version == 0 {
                return Err("versions start at 1".into());
            }
            if key.len() < MIN_SECRET_BYTES {
                return Err(format!("version {version} is shorter than {MIN_SECRET_BYTES} bytes"));
            }
            if versions.insert(version, key).is_some() {
                return Err(format!("version {version} is given twice"));
            }
        }
        if versions.is_empty() {
            return Err("no version given".into());
        }
        Ok(KeyRing {
            versions: std::sync::Arc::new(versions),
        })
    }

    /// Parses the configured form: `VERSION:BASE64URL` per entry.
    pub fn parse(entries: &[Secret<String>]) -> Result<KeyRing, String> {
        let pairs = entries
            .iter()
            .map(|e| {
                let (v, key) = e.expose().split_once(':').ok_or("an entry is not VERSION:BASE64URL")?;
                let v: u32 = v.trim().parse().map_err(|_| "a version is not a number")?;
                let key = b64_decode(key.trim()).ok_or_else(|| format!("version {v} is not base64url"))?;
                Ok((v, key))
            })
            .collect::<Result<Vec<_>, String>>()?;
        KeyRing::new(pairs)
    }

    /// A new random version-1 key in the configured form (first start of an installation).
    pub fn generate_entry() -> String {
        format!("1:{}", b64(&random_bytes(MIN_SECRET_BYTES)))
    }

    /// The version that tags new values.
    pub fn current(&self) -> u32 {
        self.versions.keys().next_back().copied().unwrap_or(1)
    }

    /// The current version's key, for a secret that has only one (the eID pseudonym key).
    pub fn current_key(&self) -> &[u8] {
        self.versions.values().next_back().map(Vec::as_slice).unwrap_or_default()
    }

    /// The configured versions, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.versions.iter().map(|(v, k)| (*v, k.as_slice()))
    }

    /// Whether version `version` is configured.
    pub fn has(&self, version: u32) -> bool {
        self.versions.contains_key(&version)
    }

    /// HMAC of `data` under version `version`, if that version is configured.
    pub fn mac(&self, version: u32, data: &[u8]) -> Option<String> {
        self.versions.get(&version).map(|k| hmac_b64(k, data))
    }

    /// `VERSION.HMAC` of `data` under the current version.
    pub fn tag(&self, data: &[u8]) -> String {
        let v = self.current();
        format!("{v}.{}", self.mac(v, data).unwrap_or_default())
    }

    /// Whether `tag` was made over `data` by a configured version, in constant time. A bare
    /// HMAC without a version is version 1, the form stored before secrets had versions.
    pub fn verify(&self, data: &[u8], tag: &str) -> bool {
        split_tag(tag).is_some_and(|(version, mac)| {
            self.mac(version, data)
                .is_some_and(|m| constant_time_eq(m.as_bytes(), mac.as_bytes()))
        })
    }

    /// The version a stored tag or sealed value was made with.
    pub fn version_of(tag: &str) -> Option<u32> {
        split_tag(tag).map(|(v, _)| v)
    }

    /// Seals `plain` under the current version, bound to `aad`: `VERSION.BASE64URL(nonce ‖
    /// AES-256-GCM ciphertext)`, with the AES key derived from the version's secret.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> String {
        let v = self.current();
        let sealed = self.aead(v).and_then(|k| seal_with(&k, aad, plain)).unwrap_or_default();
        format!("{v}.{}", b64(&sealed))
    }

    /// Opens what [`KeyRing::seal`] made under any configured version; `None` if it was not
    /// made over `aad` by one of them.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let (v, data) = sealed.split_once('.')?;
        open_with(&self.aead(v.parse().ok()?)?, aad, &b64_decode(data)?)
    }

    fn aead(&self, version: u32) -> Option<aws_lc_rs::aead::LessSafeKey> {
        let key = self.versions.get(&version)?;
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), b"servicekonto seal");
        let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, derived.as_ref()).ok()?;
        Some(aws_lc_rs::aead::LessSafeKey::new(unbound))
    }

    /// A value that identifies version `version` without revealing it: recorded in the
    /// database so a node started with a different value for the same version refuses to start.
    pub fn fingerprint(&self, version: u32) -> Option<String> {
        self.mac(version, b"servicekonto secret fingerprint").map(|m| m[..22].to_string())
    }
}

/// A tag's version and the rest; a value without a version is version 1 (stored before secrets
/// had versions).
fn split_tag(tag: &str) -> Option<(u32, &str)> {
    match tag.split_once('.') {
        Some((v, rest)) => Some((v.parse().ok()?, rest)),
        None => Some((1, tag)),
    }
}

/// AES-GCM sealing with a fresh random nonce: `nonce ‖ ciphertext ‖ tag`.
pub fn seal_with(key: &aws_lc_rs::aead::LessSafeKey, aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
    let nonce_bytes = random_bytes(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes).ok()?;
    let mut in_out = plain.to_vec();
    key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut in_out).ok()?;
    let mut out = nonce_bytes;
    out.extend_from_slice(&in_out);
    Some(out)
}

/// Opens what [`seal_with`] sealed under `key` over `aad`.
pub fn open_with(key: &aws_lc_rs::aead::LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
    if sealed.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = ciphertext.to_vec();
    key.open_in_place(nonce, Aad::from(aad), &mut in_out).ok().map(|p| p.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pairs: &[(u32, u8)]) -> KeyRing {
        KeyRing::new(pairs.iter().map(|(v, b)| (*v, vec![*b; 32]))).unwrap()
    }

    #[test]
    fn r_sec_7_a_rotated_secret_tags_with_the_newest_version_and_verifies_with_every_one() {
        let old = ring(&[(1, 1)]);
        let tag_v1 = old.tag(b"data");
        assert!(tag_v1.starts_with("1."));
        let both = ring(&[(1, 1), (2, 2)]);
        assert!(both.tag(b"data").starts_with("2."));
        assert!(both.verify(b"data", &tag_v1));
        assert!(both.verify(b"data", &both.tag(b"data")));
        assert!(!both.verify(b"other", &tag_v1));
        assert!(!ring(&[(2, 2)]).verify(b"data", &tag_v1), "a retired version verifies nothing");
        let bare = old.mac(1, b"data").unwrap();
        assert!(both.verify(b"data", &bare), "an unversioned value is version 1");
        assert!(!both.verify(b"data", "x.abc"));
    }

    #[test]
    fn r_sec_7_secrets_must_be_long_distinct_versions() {
        assert!(KeyRing::new([(1, vec![0; 31])]).is_err());
        assert!(KeyRing::new([(1, vec![0; 32]), (1, vec![1; 32])]).is_err());
        assert!(KeyRing::new([]).is_err());
        assert!(KeyRing::new([(0, vec![0; 32])]).is_err());
        assert!(KeyRing::parse(&[Secret::new("1:short".into())]).is_err());
        let parsed = KeyRing::parse(&[Secret::new(KeyRing::generate_entry())]).unwrap();
        assert_eq!(parsed.current(), 1);
        assert!(format!("{parsed:?}").contains("redacted"));
        assert_ne!(ring(&[(1, 1)]).fingerprint(1), ring(&[(1, 2)]).fingerprint(1));
    }

    #[test]
    fn r_sec_7_sealed_values_open_under_any_configured_version_and_only_for_their_context() {
        let old = ring(&[(1, 1)]);
        let sealed = old.seal(b"staff:1", b"seed");
        assert!(sealed.starts_with("1."));
        let both = ring(&[(1, 1), (2, 2)]);
        assert_eq!(both.open(b"staff:1", &sealed).as_deref(), Some(&b"seed"[..]));
        assert_eq!(both.open(b"staff:2", &sealed), None, "bound to its context");
        assert_eq!(ring(&[(2, 2)]).open(b"staff:1", &sealed), None);
        assert_ne!(old.seal(b"staff:1", b"seed"), sealed, "a fresh nonce each time");
    }

    #[test]
    fn debug_never_shows_the_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[redacted]");
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
