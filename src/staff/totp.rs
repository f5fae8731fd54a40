//! The staff second factor (R-SEC-4): time-based one-time passwords (RFC 6238) with what every
//! authenticator app reads — HMAC-SHA-1, 6 digits, 30-second steps — one step of clock drift
//! either way, and each code accepted once.

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use totp_rs::{Algorithm, TOTP};

use crate::clock::Timestamp;
use crate::secret::{Secret, random_bytes};

/// Seconds per step.
pub const STEP: i64 = 30;
const DIGITS: usize = 6;
/// Seed length: 160 bits, as RFC 4226 §4 recommends for HMAC-SHA-1.
const SEED_BYTES: usize = 20;

/// A new seed as shown once to the staff member.
pub struct Enrollment {
    /// The seed itself, to be sealed and stored.
    pub seed: Secret<Vec<u8>>,
    /// `otpauth://totp/…`, for apps that take a link.
    pub uri: Secret<String>,
    /// The URI as a QR code drawn with block characters, for the terminal.
    pub qr: Secret<String>,
}

fn totp(seed: &[u8], account: &str) -> Option<TOTP> {
    // totp-rs refuses seeds under 128 bits; ours are 160.
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP as u64,
        seed.to_vec(),
        Some("Servicekonto".into()),
        account.into(),
    )
    .ok()
}

/// A fresh seed for `username`, with its URI and QR code.
pub fn enroll(username: &str) -> Option<Enrollment> {
    let seed = random_bytes(SEED_BYTES);
    let uri = totp(&seed, username)?.get_url();
    let qr = QrCode::new(uri.as_bytes())
        .ok()?
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Some(Enrollment {
        seed: Secret::new(seed),
        uri: Secret::new(uri),
        qr: Secret::new(qr),
    })
}

/// The time step whose code `code` is, within one step of `now`; `None` for any other input.
/// Every candidate is compared in constant time.
pub fn matching_step(seed: &[u8], code: &str, now: Timestamp) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(seed, "check")?;
    let step = now.seconds().div_euclid(STEP);
    let mut found = None;
    for candidate in [step - 1, step, step + 1] {
        let at = u64::try_from(candidate * STEP).ok()?;
        if crate::secret::constant_time_eq(totp.generate(at).as_bytes(), code.as_bytes()) {
            found = Some(candidate);
        }
    }
    found
}

/// The code for `now` (tests and the development tools use it; the server only checks).
pub fn code_at(seed: &[u8], now: Timestamp) -> Option<String> {
    Some(totp(seed, "check")?.generate(u64::try_from(now.seconds()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sec_4_codes_follow_rfc_6238() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", the last 6 of 8 digits.
        let seed = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(seed, Timestamp(t)).as_deref(), Some(code), "t = {t}");
            assert_eq!(matching_step(seed, code, Timestamp(t)), Some(t / STEP));
        }
    }

    #[test]
    fn r_sec_4_a_code_is_good_one_step_either_way_and_nothing_else_passes() {
        let seed = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = code_at(seed, Timestamp(now)).unwrap();
        assert_eq!(matching_step(seed, &code, Timestamp(now + STEP)), Some(now / STEP));
        assert_eq!(matching_step(seed, &code, Timestamp(now - STEP)), Some(now / STEP));
        assert_eq!(matching_step(seed, &code, Timestamp(now + 3 * STEP)), None);
        for bad in ["", "12345", "1234567", "abcdef", " 00592 "] {
            assert_eq!(matching_step(seed, bad, Timestamp(now)), None, "{bad:?}");
        }
        let e = enroll("clara").unwrap();
        assert!(e.uri.expose().starts_with("otpauth://totp/Servicekonto:clara?secret="));
        assert!(e.uri.expose().contains("issuer=Servicekonto"));
        assert!(e.qr.expose().lines().count() > 10);
        assert_eq!(e.seed.expose().len(), 20);
    }
}
