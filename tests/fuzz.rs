//! Property tests of the parsers that take what strangers send (issue 15, item 18): the
//! authorization and token request parsers, form bodies, and JWS verification of tokens and
//! client assertions. cargo-fuzz needs a nightly toolchain, which this project's machines do not
//! have; proptest generates inputs from the grammar of each parser instead, shrinks failures, and
//! keeps them in `proptest-regressions/` (the corpus, in the repository), so a case once found
//! is tried again on every run. `.ci/run` runs these with many more cases (`PROPTEST_CASES`).

use proptest::prelude::*;

use servicekonto::config::SigningAlg;
use servicekonto::keys::jws::{self, PrivateKey, Unverified};
use servicekonto::protocol::authorize::{self, Locale};
use servicekonto::protocol::params::{MAX_VALUE_LEN, Params};
use servicekonto::protocol::scope::Scopes;
use servicekonto::protocol::token::TokenRequest;

/// Parameter names the parsers look at, and a few they do not.
const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "ui_locales",
    "claims_locales",
    "display",
    "acr_values",
    "claims",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "request",
    "request_uri",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "token",
    "token_type_hint",
    "x",
];

/// Values near what the parsers expect: protocol words, JSON, URLs, numbers, noise.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("code".to_string()),
        Just("openid profile email address phone delivery offline_access".to_string()),
        Just("none login consent select_account".to_string()),
        Just("S256".to_string()),
        Just("plain".to_string()),
        Just("authorization_code".to_string()),
        Just("refresh_token".to_string()),
        Just("client_credentials".to_string()),
        Just("form_post".to_string()),
        Just("http://127.0.0.1:9/cb".to_string()),
        Just(r#"{"id_token":{"acr":{"essential":true,"values":["urn:servicekonto:acr:eid"]}},"userinfo":{"address":null}}"#.to_string()),
        "-?[0-9]{1,20}",
        "[a-zA-Z0-9._~-]{0,64}",
        "\\PC{0,80}",
        r#"\{("[a-z_]{1,8}":(null|true|[0-9]|"[a-z]*"|\{\}|\[\]),?){0,4}\}"#,
    ]
}

fn form() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(NAMES), value()), 0..12).prop_map(|pairs| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, &v);
        }
        s.finish()
    })
}

proptest! {
    #[test]
    fn fuzz_form_bodies_parse_or_refuse_and_never_keep_a_value_too_long(body in prop_oneof![form(), "\\PC{0,300}", "[=&%0-9A-Fa-f+]{0,200}"]) {
        if let Ok(params) = Params::parse(&body) {
            for name in NAMES {
                prop_assert!(params.get(name).is_none_or(|v| !v.is_empty() && v.len() <= MAX_VALUE_LEN));
            }
        }
    }

    #[test]
    fn fuzz_authorization_requests_parse_or_refuse_without_panicking(body in form(), public in any::<bool>()) {
        let Ok(params) = Params::parse(&body) else { return Ok(()) };
        let Ok(target) = authorize::parse_target(&params) else { return Ok(()) };
        let allowed = Scopes::parse("openid profile email address").unwrap_or_default();
        if let Ok(request) = authorize::parse(&params, target, &allowed, public) {
            // What a parsed request promises the rest of the code.
            prop_assert!(request.scope.is_subset(&allowed));
            prop_assert!(!public || request.code_challenge.is_some(), "public clients use PKCE");
            prop_assert!(matches!(request.locale, Locale::De | Locale::En));
        }
    }

    #[test]
    fn fuzz_token_requests_parse_or_refuse_without_panicking(body in form()) {
        if let Ok(params) = Params::parse(&body) {
            let _ = TokenRequest::parse(&params);
        }
    }

    #[test]
    fn fuzz_compact_jws_input_never_panics_the_parser(token in prop_oneof!["\\PC{0,200}", "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,90}"]) {
        let _ = Unverified::parse(&token).map(|u| (u.kid().map(str::to_owned), u.typ().map(str::to_owned)));
    }
}

/// One ES256 key for the JWS properties (generation is the slow part).
fn key() -> &'static PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let der = servicekonto::keys::new_private_key(SigningAlg::ES256).unwrap();
        PrivateKey::from_pkcs8(SigningAlg::ES256, &der).unwrap()
    })
}

/// Signing is slower than parsing: a twentieth of the cases asked for, at least 64.
fn signing_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse::<u32>().ok())
        .map_or(64, |c| (c / 20).max(64))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: signing_cases(), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_a_jws_changed_anywhere_does_not_verify(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
        let key = key();
        let token = jws::sign(key, SigningAlg::ES256, "k1", "client-authentication+jwt", &serde_json::json!({"iss": "c", "aud": "https://idp/token"})).unwrap();
        let i = position.index(token.len());
        let mut changed = token.clone().into_bytes();
        changed[i] = replacement.as_bytes()[0];
        let changed = String::from_utf8(changed).unwrap();
        let verified = Unverified::parse(&changed).and_then(|u| u.verify(&key.public_key()));
        if changed == token {
            prop_assert!(verified.is_ok());
        } else {
            // Base64url's last character may carry unused bits; what decodes to the same
            // bytes is the same token.
            prop_assert!(verified.is_err() || same_bytes(&changed, &token), "{changed}");
        }
    }
}

/// Inputs worth trying on every run: each has broken something somewhere.
const CORPUS: &[&str] = &[
    "",
    "&&&&",
    "=",
    "a=1&a=2",
    "client_id=%",
    "client_id=%zz&redirect_uri=%E0%A4%A",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&claims=%7B%22id_token%22%3A%5B%5D%7D",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&claims=%7B%22userinfo%22%3Anull%7D",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&max_age=-1",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&max_age=99999999999999999999999",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code+id_token&scope=openid",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&code_challenge=x&code_challenge_method=plain",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&prompt=none+login",
    "client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid&ui_locales=%00%FF",
    "grant_type=authorization_code&code=",
    "grant_type=refresh_token&refresh_token=x&scope=%20%20",
    "grant_type=client_credentials&scope=openid%09profile",
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
];

#[test]
fn fuzz_the_corpus_passes_every_parser() {
    let allowed = Scopes::parse("openid profile email address").unwrap();
    for body in CORPUS {
        let Ok(params) = Params::parse(body) else { continue };
        let _ = TokenRequest::parse(&params);
        if let Ok(target) = authorize::parse_target(&params) {
            for public in [false, true] {
                if let Ok(r) = authorize::parse(&params, target.clone(), &allowed, public) {
                    assert!(r.scope.is_subset(&allowed), "{body}");
                }
            }
        }
    }
    for token in [
        "..",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
        "e30.e30.e30.e30",
    ] {
        let parsed = Unverified::parse(token);
        assert!(parsed.and_then(|u| u.verify(&key().public_key())).is_err(), "{token}");
    }
}

fn same_bytes(a: &str, b: &str) -> bool {
    let decode = |t: &str| t.split('.').map(servicekonto::secret::b64_decode).collect::<Vec<_>>();
    decode(a) == decode(b)
}
