//! Whole flows with the `openidconnect` crate as the relying party: discovery, code flow with
//! PKCE and nonce, ID-token validation (signature, nonce, at_hash), userinfo, refresh,
//! revocation, introspection and logout.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use reqwest::StatusCode;
use servicekonto::clients::{AuthMethod, SubjectType};

use crate::support::*;

#[tokio::test]
async fn openidconnect_rp_completes_code_flow_with_pkce_refresh_userinfo_revocation_and_logout() {
    let app = TestApp::start().await;
    let (id, secret) = app.client(ClientSpec::default()).await;
    app.account("erika@example.de", true).await;
    let http = app.http();

    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.clone()),
        Some(ClientSecret::new(secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(RP_CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("address".into()))
        .set_pkce_challenge(challenge)
        .url();

    let mut browser = app.browser();
    let end = browser
        .walk(auth_url.as_str(), Some(("erika@example.de", PASSWORD)), Consent::Allow)
        .await;
    assert_eq!(end.param("state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(
        end.param("iss").as_deref(),
        Some(app.issuer.as_str()),
        "RFC 9207 iss in the response"
    );
    let consent_page = browser.seen.last().unwrap();
    assert!(
        consent_page.contains("Testdienst") && consent_page.contains("Anschrift"),
        "consent lists the data"
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(end.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), "urn:servicekonto:acr:plus");
    assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.authorized_party().unwrap().as_str(), id);
    let raw = jwt_claims(&id_token.to_string());
    assert!(raw["sid"].is_string());

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(userinfo.email().unwrap().as_str(), "erika@example.de");
    assert_eq!(userinfo.address().unwrap().locality.as_ref().unwrap().as_str(), "Köln");

    // Access tokens are RFC 9068 JWTs.
    let at_header: serde_json::Value =
        serde_json::from_slice(&servicekonto::secret::b64_decode(tokens.access_token().secret().split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(at_header["typ"], "at+jwt");

    // Refresh rotates; the new ID token keeps sub and auth_time.
    let refresh = tokens.refresh_token().unwrap().clone();
    let refreshed = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await.unwrap();
    assert_ne!(refreshed.refresh_token().unwrap().secret(), refresh.secret());
    let new_claims = jwt_claims(&refreshed.id_token().unwrap().to_string());
    assert_eq!(new_claims["sub"].as_str().unwrap(), claims.subject().as_str());
    assert_eq!(new_claims["auth_time"].as_i64(), claims.auth_time().map(|t| t.timestamp()));

    // Introspection knows the token, revocation ends it, and userinfo refuses it afterwards.
    let introspect = |token: String| {
        let http = http.clone();
        let url = app.url("/introspect");
        let (id, secret) = (id.clone(), secret.clone().unwrap());
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let access = refreshed.access_token().secret().clone();
    let info = introspect(access.clone()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "address email openid profile");
    let res = http
        .post(app.url("/revoke"))
        .basic_auth(&id, secret.as_deref())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(introspect(access.clone()).await["active"], false);
    let res = http.get(app.url("/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // Revoking the refresh token ends the grant.
    let rt = refreshed.refresh_token().unwrap().secret().clone();
    assert_eq!(introspect(rt.clone()).await["active"], true);
    http.post(app.url("/revoke"))
        .basic_auth(&id, secret.as_deref())
        .form(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(introspect(rt.clone()).await["active"], false);
    let again = client
        .exchange_refresh_token(&RefreshToken::new(rt))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(again.is_err());

    // RP-initiated logout with id_token_hint ends the session and returns with state.
    let mut logout = url::Url::parse(&app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token.to_string())
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/bye")
        .append_pair("state", "bye-state");
    let res = browser.http.get(logout.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "http://127.0.0.1:9/bye?state=bye-state");
    let end = browser
        .walk(&authorize_url(&app, &id, &[("prompt", "none")]), None, Consent::Allow)
        .await;
    assert_eq!(
        end.param("error").as_deref(),
        Some("login_required"),
        "R-SES-3: the session is gone"
    );
}

#[tokio::test]
async fn public_client_uses_pkce_and_gets_no_secret() {
    let app = TestApp::start().await;
    let (id, secret) = app
        .client(ClientSpec {
            auth_method: AuthMethod::None,
            ..ClientSpec::default()
        })
        .await;
    assert!(secret.is_none());
    app.account("pub@example.de", false).await;
    let mut browser = app.browser();
    // Without PKCE the request is refused back to the client.
    let end = browser.walk(&authorize_url(&app, &id, &[]), None, Consent::Allow).await;
    assert_eq!(end.param("error").as_deref(), Some("invalid_request"));
    let (verifier, challenge) = pkce();
    let code = login_code(
        &app,
        &mut browser,
        &id,
        "pub@example.de",
        &[("code_challenge", &challenge), ("code_challenge_method", "S256")],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", RP_CALLBACK),
        ("client_id", &id),
        ("code_verifier", &verifier),
    ];
    let res = app.http().post(app.url("/token")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(jwt_claims(body["id_token"].as_str().unwrap())["acr"], "urn:servicekonto:acr:basic");
}

#[tokio::test]
async fn pairwise_subjects_differ_per_client_and_public_subjects_do_not() {
    let app = TestApp::start().await;
    let (a, sa) = app.client(ClientSpec::default()).await;
    let (b, sb) = app.client(ClientSpec::default()).await;
    let (c, sc) = app
        .client(ClientSpec {
            subject_type: SubjectType::Public,
            ..ClientSpec::default()
        })
        .await;
    let account = app.account("pair@example.de", false).await;
    let mut browser = app.browser();
    let mut subs = vec![];
    for (id, secret) in [(&a, &sa), (&b, &sb), (&c, &sc)] {
        let code = login_code(&app, &mut browser, id, "pair@example.de", &[]).await;
        let (_, body) = redeem(&app, id, secret.as_deref().unwrap(), &code, &[]).await;
        subs.push(jwt_claims(body["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_string());
    }
    // Same host for both pairwise clients: the sector is the redirect host, so they agree.
    assert_eq!(subs[0], subs[1]);
    assert_ne!(subs[0], account.id.as_str());
    assert_eq!(subs[2], account.id.as_str());
}

#[tokio::test]
async fn demo_relying_party_logs_in_and_shows_claims_and_userinfo() {
    let app = TestApp::start().await;
    app.account("demo@example.de", false).await;
    let mut browser = app.browser();
    let End::Page(status, body) = browser
        .walk(&app.url("/demo/start"), Some(("demo@example.de", PASSWORD)), Consent::Allow)
        .await
    else {
        panic!("the demo lives on this issuer")
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("urn:servicekonto:acr:basic"), "ID token claims shown");
    assert!(body.contains("demo@example.de"), "userinfo shown");
    assert!(
        browser.seen.iter().any(|p| p.contains("Demo-Dienst")),
        "the demo is a registered client"
    );
}
