//! Compact JWS (RFC 7515) signing and verification with `aws-lc-rs`, holding each private key
//! parsed once. `jsonwebtoken`'s `encode` re-parses the key on every call, which costs about
//! 40% of the token endpoint's throughput (see docs/decisions/0002-jws-with-aws-lc-rs.md).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use serde::Serialize;
use serde_json::Value;

use crate::config::SigningAlg;
use crate::secret::{b64, b64_decode};

/// A parsed private key ready to sign.
pub enum PrivateKey {
    /// RSA 2048 (RS256).
    Rsa(RsaKeyPair),
    /// P-256 (ES256).
    Ec(EcdsaKeyPair),
}

/// A public key as published in a JWK Set, usable to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed P-256 point coordinates.
    Ec { x: Vec<u8>, y: Vec<u8> },
}

/// Why a JWS was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    /// Not three base64url parts with JSON header and payload.
    #[error("malformed JWS")]
    Malformed,
    /// The header names an algorithm or key we do not accept.
    #[error("unacceptable algorithm or key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

impl PrivateKey {
    /// Parses a PKCS#8 DER private key for `alg`.
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, String> {
        match alg {
            SigningAlg::RS256 => RsaKeyPair::from_pkcs8(der).map(PrivateKey::Rsa).map_err(|e| e.to_string()),
            SigningAlg::ES256 => EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map(PrivateKey::Ec)
                .map_err(|e| e.to_string()),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(k) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public_key());
                PublicKey::Rsa { n: c.n, e: c.e }
            }
            PrivateKey::Ec(k) => {
                let point = k.public_key().as_ref();
                PublicKey::Ec {
                    x: point[1..33].to_vec(),
                    y: point[33..65].to_vec(),
                }
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JwsError> {
        let rng = SystemRandom::new();
        match self {
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| JwsError::BadSignature)?;
                Ok(sig)
            }
            PrivateKey::Ec(k) => Ok(k.sign(&rng, message).map_err(|_| JwsError::BadSignature)?.as_ref().to_vec()),
        }
    }
}

impl PublicKey {
    /// Reads the public members of a JWK (`kty` RSA or EC/P-256).
    pub fn from_jwk(jwk: &Value) -> Option<PublicKey> {
        let member = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(b64_decode);
        match jwk.get("kty").and_then(Value::as_str)? {
            "RSA" => Some(PublicKey::Rsa {
                n: member("n")?,
                e: member("e")?,
            }),
            "EC" if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => Some(PublicKey::Ec {
                x: member("x")?,
                y: member("y")?,
            }),
            _ => None,
        }
    }

    /// The JWK members of this key (public only).
    pub fn jwk_members(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        match self {
            PublicKey::Rsa { n, e } => {
                m.insert("kty".into(), "RSA".into());
                m.insert("n".into(), b64(n).into());
                m.insert("e".into(), b64(e).into());
            }
            PublicKey::Ec { x, y } => {
                m.insert("kty".into(), "EC".into());
                m.insert("crv".into(), "P-256".into());
                m.insert("x".into(), b64(x).into());
                m.insert("y".into(), b64(y).into());
            }
        }
        m
    }

    /// The algorithm this key verifies.
    pub fn alg(&self) -> SigningAlg {
        match self {
            PublicKey::Rsa { .. } => SigningAlg::RS256,
            PublicKey::Ec { .. } => SigningAlg::ES256,
        }
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            PublicKey::Ec { x, y } => {
                let mut point = Vec::with_capacity(65);
                point.push(4u8);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// Signs `claims` as a compact JWS with header `alg`, `typ` and `kid`.
pub fn sign<C: Serialize>(key: &PrivateKey, alg: SigningAlg, kid: &str, typ: &str, claims: &C) -> Result<String, JwsError> {
    let header = serde_json::to_vec(&Header {
        alg: alg.as_str(),
        typ,
        kid,
    })
    .map_err(|_| JwsError::Malformed)?;
    let payload = serde_json::to_vec(claims).map_err(|_| JwsError::Malformed)?;
    let mut out = String::with_capacity(512);
    out.push_str(&b64(&header));
    out.push('.');
    out.push_str(&b64(&payload));
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&b64(&sig));
    Ok(out)
}

/// A JWS split into its parts, header and payload decoded, signature not yet checked.
pub struct Unverified<'a> {
    /// The protected header.
    pub header: Value,
    /// The payload as JSON.
    pub claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Unverified<'a> {
    /// Splits and decodes a compact JWS.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        let mut parts = token.splitn(3, '.');
        let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s)) if !s.contains('.') => (h, p, s),
            _ => return Err(JwsError::Malformed),
        };
        let header: Value = b64_decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Malformed)?;
        let claims: Value = b64_decode(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Malformed)?;
        let signature = b64_decode(s).ok_or(JwsError::Malformed)?;
        if !header.is_object() || !claims.is_object() {
            return Err(JwsError::Malformed);
        }
        Ok(Self {
            header,
            claims,
            signing_input: &token[..h.len() + 1 + p.len()],
            signature,
        })
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The header's `typ`, if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// Checks the signature with `key`; the header's `alg` must be exactly the key's algorithm,
    /// so `none` and algorithm confusion are refused.
    pub fn verify(self, key: &PublicKey) -> Result<Value, JwsError> {
        if self.header.get("alg").and_then(Value::as_str) != Some(key.alg().as_str()) {
            return Err(JwsError::UnknownKey);
        }
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(self.claims)
        } else {
            Err(JwsError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec_key() -> PrivateKey {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        PrivateKey::from_pkcs8(SigningAlg::ES256, pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn signs_and_verifies_and_refuses_tampering() {
        let key = ec_key();
        let token = sign(&key, SigningAlg::ES256, "k1", "JWT", &serde_json::json!({"sub": "a"})).unwrap();
        let claims = Unverified::parse(&token).unwrap().verify(&key.public_key()).unwrap();
        assert_eq!(claims["sub"], "a");

        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(br#"{"sub":"b"}"#);
        parts[1] = &forged;
        let forged = parts.join(".");
        assert_eq!(
            Unverified::parse(&forged).unwrap().verify(&key.public_key()),
            Err(JwsError::BadSignature)
        );
        assert_eq!(
            Unverified::parse(&token).unwrap().verify(&ec_key().public_key()),
            Err(JwsError::BadSignature)
        );
    }

    #[test]
    fn refuses_alg_none_and_garbage() {
        let key = ec_key();
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"sub":"a"}"#));
        assert_eq!(
            Unverified::parse(&none).unwrap().verify(&key.public_key()),
            Err(JwsError::UnknownKey)
        );
        assert!(Unverified::parse("a.b").is_err());
        assert!(Unverified::parse("a.b.c.d").is_err());
    }
}
