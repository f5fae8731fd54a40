//! The test harness: a fresh server per test (own database, keys and port) and a
//! cookie-keeping browser that walks through the login and consent pages.

use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use servicekonto::accounts::{self, Account, Address, NewAccount};
use servicekonto::clients::{self, AuthMethod, GrantType, NewClient, SubjectType};
use servicekonto::config::Config;
use servicekonto::secret::{Secret, random_token};
use servicekonto::state::AppState;
use servicekonto::trust::TrustLevel;
use tokio::net::TcpListener;

/// What a `pg_redis_` test does on the default backend: it says so, and checks nothing (its
/// name says it needs PostgreSQL and Redis; `.ci/run` always runs it with both).
pub fn skipped_without_postgres_and_redis() {
    eprintln!("skipped: needs SERVICEKONTO_TEST_DATABASE_URL and SERVICEKONTO_TEST_REDIS_URL");
}

/// Where every test RP says it lives; never contacted, the browser stops at the redirect.
pub const RP_CALLBACK: &str = "http://127.0.0.1:9/cb";
/// A password that satisfies R-REG-2.
pub const PASSWORD: &str = "ABab1234!";

/// One running server.
pub struct TestApp {
    pub issuer: String,
    pub state: AppState,
    dir: PathBuf,
    /// Held for its `Drop`, which removes the test's database and Redis keys.
    _backing: Backing,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The databases a test created for itself, removed when it ends. The backend matrix is chosen
/// by environment: `SERVICEKONTO_TEST_DATABASE_URL` (a PostgreSQL server; each test gets its own
/// database) and `SERVICEKONTO_TEST_REDIS_URL` (each test gets its own key prefix); SQLite and
/// in-process state otherwise.
pub struct Backing {
    postgres: Option<(String, String)>,
    redis: Option<(String, String)>,
}

impl Backing {
    pub async fn create(dir: &std::path::Path) -> (Backing, String, Option<(String, String)>) {
        let postgres = match std::env::var("SERVICEKONTO_TEST_DATABASE_URL") {
            Ok(admin) => {
                let name = format!("sk_test_{}", hex(&servicekonto::secret::random_bytes(8)));
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Some((admin, name))
            }
            Err(_) => None,
        };
        let database_url = match &postgres {
            Some((admin, name)) => {
                let mut url = url::Url::parse(admin).unwrap();
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
            None => format!("sqlite://{}/test.db", dir.display()),
        };
        let redis = std::env::var("SERVICEKONTO_TEST_REDIS_URL")
            .ok()
            .map(|url| (url, format!("sk-test-{}:", random_token(8))));
        (
            Backing {
                postgres,
                redis: redis.clone(),
            },
            database_url,
            redis,
        )
    }
}

impl Drop for Backing {
    /// Drops the test's database and Redis keys, on a runtime of its own.
    fn drop(&mut self) {
        let (postgres, redis) = (self.postgres.take(), self.redis.take());
        if postgres.is_none() && redis.is_none() {
            return;
        }
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Some((admin, name)) = postgres {
                    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.unwrap();
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)")))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
                if let Some((url, prefix)) = redis {
                    let store = servicekonto::ephemeral::RedisStore::connect(&url, &prefix, std::time::Duration::from_secs(2))
                        .await
                        .unwrap();
                    store.clear_prefix().await.unwrap();
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Options for a test client.
pub struct ClientSpec {
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub min_level: TrustLevel,
    pub jwks_uri: Option<String>,
    pub scopes: Vec<String>,
    pub subject_type: SubjectType,
    pub post_logout: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub allow_interop: bool,
    pub federation_partner: bool,
    pub offer: servicekonto::clients::Offer,
    pub client_id: Option<String>,
    pub secret: Option<String>,
}

impl Default for ClientSpec {
    fn default() -> Self {
        Self {
            auth_method: AuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            min_level: TrustLevel::Basic,
            jwks_uri: None,
            scopes: vec![],
            subject_type: SubjectType::Pairwise,
            post_logout: vec!["http://127.0.0.1:9/bye".into()],
            backchannel_logout_uri: None,
            redirect_uris: vec![RP_CALLBACK.into()],
            allow_interop: false,
            federation_partner: false,
            offer: Default::default(),
            client_id: None,
            secret: None,
        }
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), adjust).await
    }

    /// A server on a port bound ahead (so two servers can name each other in their
    /// configuration); its issuer is `http://<bound address>`.
    pub async fn on(listener: TcpListener, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = std::env::temp_dir().join(format!("sk-test-{}", random_token(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let addr = listener.local_addr().unwrap();
        let (backing, database_url, redis) = Backing::create(&dir).await;
        let mut config = Config {
            issuer: format!("http://{addr}"),
            bind: addr.to_string(),
            database_url,
            redis_url: redis.as_ref().map(|(url, _)| url.clone()),
            redis_prefix: redis.map(|(_, prefix)| prefix).unwrap_or_default(),
            keys_dir: dir.join("keys"),
            outbox_dir: dir.join("outbox"),
            secrets: servicekonto::config::SecretsConfig {
                file: dir.join("secrets.toml"),
                ..Default::default()
            },
            ..Config::default()
        };
        adjust(&mut config);
        let state = servicekonto::server::prepare(config).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            servicekonto::server::serve(served, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            issuer: state.config.issuer.clone(),
            state,
            dir,
            _backing: backing,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The audit events whose action starts with `action` ("" for all), oldest first.
    pub async fn audit(&self, action: &str) -> Vec<servicekonto::audit::Event> {
        let query = servicekonto::audit::Query {
            action: Some(action.to_string()).filter(|a| !a.is_empty()),
            limit: 1000,
            ..Default::default()
        };
        self.state.store.audit_events(&query).await.unwrap()
    }

    /// The keys client registration uses: the pepper and the pairwise-subject key.
    pub fn client_keys(&self) -> (&servicekonto::secret::KeyRing, &servicekonto::secret::KeyRing) {
        (&self.state.secrets.client_secret_pepper, &self.state.secrets.pairwise_subject_key)
    }

    /// Registers a client; returns its id and secret.
    pub async fn client(&self, spec: ClientSpec) -> (String, Option<String>) {
        let new = NewClient {
            name: "Testdienst".into(),
            redirect_uris: spec.redirect_uris,
            post_logout_redirect_uris: spec.post_logout,
            grant_types: spec.grant_types,
            auth_method: spec.auth_method,
            jwks_uri: spec.jwks_uri,
            scopes: spec.scopes,
            min_level: spec.min_level,
            client_id: spec.client_id,
            secret: spec.secret.map(Secret::new),
            subject_type: spec.subject_type,
            backchannel_logout_uri: spec.backchannel_logout_uri,
            allow_interop: spec.allow_interop,
            federation_partner: spec.federation_partner,
            offer: spec.offer,
        };
        let (client, secret) = clients::register(&self.state.store, self.client_keys(), new, servicekonto::clock::now())
            .await
            .unwrap();
        (client.id.to_string(), secret.map(|s| s.expose().clone()))
    }

    /// Creates an account (Plus with birthdate and address when `plus`).
    pub async fn account(&self, email: &str, plus: bool) -> Account {
        let new = NewAccount {
            email: email.into(),
            password: Secret::new(PASSWORD.into()),
            given_name: "Erika".into(),
            family_name: "Mustermann".into(),
            plus,
            birthdate: plus.then(|| "1964-08-12".into()),
            address: plus.then(|| Address {
                street: "Heidestraße".into(),
                house_number: "17".into(),
                postal_code: "51147".into(),
                city: "Köln".into(),
                country: "DE".into(),
            }),
        };
        accounts::create(&self.state.store, &self.state.hasher, new, servicekonto::clock::now())
            .await
            .unwrap()
    }

    /// An employee of organisation `org` who logs in with `PASSWORD`.
    pub async fn employee(&self, org: &servicekonto::ids::OrgId, email: &str) -> Account {
        let hash = self.state.hasher.hash(Secret::new(PASSWORD.into())).await.unwrap();
        let account = Account {
            kind: servicekonto::accounts::AccountKind::Organisation,
            ..Account::citizen(email.into(), hash, "Emil".into(), "Employee".into(), servicekonto::clock::now())
        };
        self.state
            .store
            .insert_org_user(&account, org, servicekonto::orgs::OrgRole::Employee)
            .await
            .unwrap();
        account
    }

    /// A client that may use client_credentials only.
    pub async fn machine_client(&self, scopes: &[&str]) -> (String, String) {
        let spec = ClientSpec {
            grant_types: vec![GrantType::ClientCredentials],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..ClientSpec::default()
        };
        let (id, secret) = self.client(spec).await;
        (id, secret.unwrap())
    }

    /// Posts a form to `path` with HTTP Basic client authentication; the status and the JSON
    /// body (`Null` when there is none).
    pub async fn post_as(&self, path: &str, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
        post_form_as(&self.url(path), id, secret, form).await
    }

    /// Redeems `refresh_token` at the token endpoint: the status and the JSON body.
    pub async fn refresh(&self, id: &str, secret: &str, refresh_token: &str) -> (StatusCode, serde_json::Value) {
        self.post_as(
            "/token",
            id,
            secret,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }

    /// GETs userinfo with `access_token`: the status and the JSON body (`Null` when there is none).
    pub async fn userinfo(&self, access_token: &str) -> (StatusCode, serde_json::Value) {
        let res = self
            .http()
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A confidential client, a basic account `email` logged in and consented through the pages,
    /// and the code of that authorization: (client id, secret, browser, code).
    pub async fn signed_in(&self, email: &str) -> (String, String, Browser, String) {
        let (id, secret) = self.client(ClientSpec::default()).await;
        self.account(email, false).await;
        let mut browser = self.browser();
        let code = login_code(self, &mut browser, &id, email, &[]).await;
        (id, secret.unwrap(), browser, code)
    }

    /// Every mail in the outbox addressed to `to`, whole (headers and bodies).
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("outbox")) else {
            return vec![];
        };
        let mut mails: Vec<(std::time::SystemTime, String)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, std::fs::read_to_string(e.path()).ok()?)))
            .filter(|(_, text)| text.lines().any(|l| l.eq_ignore_ascii_case(&format!("To: {to}"))))
            .collect();
        mails.sort_by_key(|(t, _)| *t);
        mails.into_iter().map(|(_, m)| m).collect()
    }

    /// Waits (up to 10 s) for a mail to `to` carrying a link to `path` and returns the link;
    /// the newest such link when there are several.
    pub async fn mail_link(&self, to: &str, path: &str) -> String {
        let prefix = format!("{}{path}?token=", self.issuer);
        for _ in 0..100 {
            let links: Vec<String> = self
                .mails_to(to)
                .iter()
                .filter_map(|m| {
                    let start = m.find(&prefix)?;
                    Some(m[start..start + prefix.len() + 43].to_string())
                })
                .collect();
            if let Some(link) = links.last() {
                return link.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no mail to {to} with a link to {path}; mails: {:?}", self.mails_to(to));
    }

    /// Waits (up to 10 s) until `to` has received `n` mails; returns them.
    pub async fn wait_mails(&self, to: &str, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let mails = self.mails_to(to);
            if mails.len() >= n {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{to} received {} mails, expected {n}", self.mails_to(to).len());
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.issuer)
    }

    /// A plain HTTP client (no cookies, no redirects).
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

/// What the browser does at the consent page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Allow,
    Deny,
}

/// Where a walk through the pages ended.
#[derive(Debug)]
pub enum End {
    /// Redirected to the client with these query parameters.
    Client(url::Url),
    /// A page of ours that is neither login nor consent (status, body).
    Page(StatusCode, String),
}

impl End {
    pub fn param(&self, name: &str) -> Option<String> {
        match self {
            End::Client(u) => u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()),
            End::Page(..) => None,
        }
    }

    pub fn code(&self) -> String {
        self.param("code").unwrap_or_else(|| panic!("no code in {self:?}"))
    }
}

/// A cookie-keeping browser that does not follow redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
    issuer: String,
    /// Pages seen on the way (login, consent), for assertions.
    pub seen: Vec<String>,
    /// Attributes to deselect at a federation partner's consent.
    pub withhold: Vec<String>,
}

/// The form fields of the checkboxes in `html` that are checked and can be changed, minus
/// those named in `withhold`.
pub fn checked_boxes(html: &str, withhold: &[String]) -> Vec<(String, String)> {
    html.split("<input type=\"checkbox\"")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains(" checked") || tag.contains(" disabled") {
                return None;
            }
            let start = tag.find("name=\"")? + 6;
            let name = tag[start..start + tag[start..].find('"')?].to_string();
            let key = name.strip_prefix("attr_").unwrap_or(&name);
            (!withhold.iter().any(|w| w == key)).then(|| (name.clone(), "on".to_string()))
        })
        .collect()
}

/// The value of a hidden or text input named `name` in an HTML form.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(
        html[start..start + end]
            .replace("&amp;", "&")
            .replace("&#x2F;", "/")
            .replace("&quot;", "\""),
    )
}

impl Browser {
    /// The same browser (same cookies) talking to another node at `base`.
    pub fn on(&self, base: &str) -> Browser {
        Browser {
            http: self.http.clone(),
            issuer: base.to_string(),
            seen: vec![],
            withhold: self.withhold.clone(),
        }
    }

    pub fn new(issuer: &str) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            http,
            issuer: issuer.to_string(),
            seen: vec![],
            withhold: vec![],
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.issuer)
        } else {
            location.to_string()
        }
    }

    /// Follows redirects from `url`, logging in with `login` and answering consent with
    /// `consent`, until the browser leaves for the client or stops at another page.
    pub async fn walk(&mut self, url: &str, login: Option<(&str, &str)>, consent: Consent) -> End {
        let mut next = url.to_string();
        for _ in 0..20 {
            if !next.starts_with(&self.issuer) {
                return End::Client(url::Url::parse(&next).unwrap());
            }
            let res = self.http.get(&next).send().await.unwrap();
            if res.status().is_redirection() {
                next = self.absolute(res.headers()[LOCATION].to_str().unwrap());
                continue;
            }
            let status = res.status();
            let path = url::Url::parse(&next).unwrap().path().to_string();
            let body = res.text().await.unwrap();
            if path == "/login" && status == StatusCode::OK {
                self.seen.push(body.clone());
                let Some((email, password)) = login else {
                    return End::Page(status, body);
                };
                next = self
                    .submit_login(&body, email, password)
                    .await
                    .unwrap_or_else(|b| panic!("login failed: {b}"));
            } else if path == "/consent" && status == StatusCode::OK {
                self.seen.push(body.clone());
                let decision = if consent == Consent::Allow { "allow" } else { "deny" };
                let mut form = vec![
                    ("csrf".to_string(), form_value(&body, "csrf").unwrap()),
                    ("txn".to_string(), form_value(&body, "txn").unwrap()),
                    ("decision".to_string(), decision.into()),
                ];
                form.extend(checked_boxes(&body, &self.withhold));
                let res = self.http.post(format!("{}/consent", self.issuer)).form(&form).send().await.unwrap();
                assert!(res.status().is_redirection(), "consent answered {}", res.status());
                next = self.absolute(res.headers()[LOCATION].to_str().unwrap());
            } else {
                return End::Page(status, body);
            }
        }
        panic!("too many redirects");
    }

    /// GETs a path (or URL) of ours without following redirects: the status and the body, or
    /// `redirect:<location>` for a redirect.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let res = self.http.get(self.absolute(path)).send().await.unwrap();
        Self::outcome(res).await
    }

    async fn outcome(res: reqwest::Response) -> (StatusCode, String) {
        let status = res.status();
        if status.is_redirection() {
            let loc = res.headers()[LOCATION].to_str().unwrap().to_string();
            (status, format!("redirect:{loc}"))
        } else {
            (status, res.text().await.unwrap())
        }
    }

    /// This browser's CSRF token (fetched from the login page, which also sets the cookie).
    pub async fn csrf(&self) -> String {
        let (_, body) = self.page("/login").await;
        form_value(&body, "csrf").unwrap()
    }

    /// POSTs a form with this browser's CSRF token added.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        Self::outcome(self.post(path, fields).await).await
    }

    /// POSTs a form with this browser's CSRF token added; the whole response (for headers).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.http.post(self.absolute(path)).form(&form).send().await.unwrap()
    }

    /// Logs in outside an authorization; panics unless it works.
    pub async fn login(&self, email: &str, password: &str) {
        let (status, body) = self.submit("/login", &[("email", email), ("password", password)]).await;
        assert!(status.is_redirection(), "login as {email} failed: {status} {body}");
    }

    /// Posts the login form found in `page`; the redirect target, or the page body on failure.
    pub async fn submit_login(&self, page: &str, email: &str, password: &str) -> Result<String, String> {
        let mut form = vec![
            ("csrf", form_value(page, "csrf").unwrap()),
            ("email", email.into()),
            ("password", password.into()),
        ];
        if let Some(txn) = form_value(page, "txn") {
            form.push(("txn", txn));
        }
        let res = self.http.post(format!("{}/login", self.issuer)).form(&form).send().await.unwrap();
        if res.status().is_redirection() {
            Ok(self.absolute(res.headers()[LOCATION].to_str().unwrap()))
        } else {
            Err(res.text().await.unwrap())
        }
    }
}

/// Posts a form to `url` with HTTP Basic client authentication; the status and the JSON body
/// (`Null` when there is none).
pub async fn post_form_as(url: &str, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(url)
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// A session that was logged in and has since been idle past `idle_seconds = 1`.
pub async fn expired_session(email: &str) -> (TestApp, Browser, String) {
    let app = TestApp::with(|c| c.sessions.idle_seconds = 1).await;
    let (id, _) = app.client(ClientSpec::default()).await;
    app.account(email, false).await;
    let mut browser = app.browser();
    login_code(&app, &mut browser, &id, email, &[]).await;
    // Past the idle time on the application's clock, instead of waiting for it.
    app.state.clock.advance(2);
    (app, browser, id)
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = random_token(32);
    let challenge = servicekonto::secret::sha256_b64(verifier.as_bytes());
    (verifier, challenge)
}

/// An authorization URL with the usual parameters plus `extra`.
pub fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id).append_pair("redirect_uri", RP_CALLBACK);
        let has = |k: &str| extra.iter().any(|(n, _)| *n == k);
        if !has("response_type") {
            q.append_pair("response_type", "code");
        }
        if !has("scope") {
            q.append_pair("scope", "openid profile email");
        }
        if !has("state") {
            q.append_pair("state", "st-1");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Redeems a code with client_secret_basic; returns the JSON response and status.
pub async fn redeem(app: &TestApp, id: &str, secret: &str, code: &str, extra: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", RP_CALLBACK)];
    form.extend_from_slice(extra);
    let res = app
        .http()
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Decodes a JWT's payload without checking it (the server's checks are under test elsewhere).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&servicekonto::secret::b64_decode(payload).unwrap()).unwrap()
}

/// Logs `email` in through a full authorization and returns the code.
pub async fn login_code(app: &TestApp, browser: &mut Browser, client_id: &str, email: &str, extra: &[(&str, &str)]) -> String {
    browser
        .walk(&authorize_url(app, client_id, extra), Some((email, PASSWORD)), Consent::Allow)
        .await
        .code()
}

/// A simulator (`servicekonto sim eid|elster`) as a process of its own; killed on drop.
pub struct Sim {
    child: std::process::Child,
}

pub const SIM_SECRET: &str = "sim-secret-for-tests-only-0123456789";

impl Sim {
    /// Starts the simulator on a free port of `host` for the IdP at `idp_issuer` (upstream id
    /// `eid`), with more command-line options `extra`; returns it and its issuer. The simulator
    /// binds the port itself and names it on its first line of output, so no other test can take
    /// the port in between.
    pub fn start(host: &str, idp_issuer: &str, extra: &[&str]) -> (Sim, String) {
        Self::start_for("eid", host, idp_issuer, extra)
    }

    /// `start` for the IdP's upstream `id`.
    pub fn start_for(id: &str, host: &str, idp_issuer: &str, extra: &[&str]) -> (Sim, String) {
        Self::start_kind("eid", id, host, idp_issuer, extra)
    }

    /// `start_for` with the simulator `kind` (`eid`, `elster`).
    pub fn start_kind(kind: &str, id: &str, host: &str, idp_issuer: &str, extra: &[&str]) -> (Sim, String) {
        use std::io::BufRead;
        let callback = format!("{idp_issuer}/upstream/{id}/callback");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_servicekonto"))
            .args(["sim", kind, "--bind", &format!("{host}:0"), "--client-id", "servicekonto"])
            .args(["--client-secret", SIM_SECRET, "--redirect-uri", &callback])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let issuer = line.trim().to_string();
        assert!(issuer.starts_with("http://"), "the {kind} simulator did not start: {line:?}");
        (Sim { child }, issuer)
    }

    /// The upstream entry for an IdP's configuration.
    pub fn upstream(issuer: &str) -> servicekonto::config::UpstreamConfig {
        servicekonto::config::UpstreamConfig {
            id: "eid".into(),
            kind: servicekonto::config::UpstreamKind::Eid,
            display_name: "Online-Ausweis".into(),
            ..Self::elster_upstream(issuer)
        }
    }

    /// The upstream entry of an ELSTER simulator.
    pub fn elster_upstream(issuer: &str) -> servicekonto::config::UpstreamConfig {
        servicekonto::config::UpstreamConfig {
            id: "elster".into(),
            kind: servicekonto::config::UpstreamKind::Elster,
            display_name: "ELSTER".into(),
            logo_text: None,
            issuer: issuer.into(),
            client_id: "servicekonto".into(),
            client_secret: Some(Secret::new(SIM_SECRET.into())),
            scopes: vec![],
            acr_map: Default::default(),
            auth_method: None,
            claim_map: Default::default(),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An IdP with the eID simulator as its `eid` upstream.
pub async fn app_with_eid() -> (TestApp, Sim) {
    app_with_sim("127.0.0.1", |_, _| {}, &[]).await
}

/// An IdP whose `eid` upstream is a simulator listening on `host`: `adjust` changes the
/// configuration and the upstream entry; `extra` are more simulator options, in which `{idp}`
/// stands for the IdP's issuer.
pub async fn app_with_sim(
    host: &str,
    adjust: impl FnOnce(&mut Config, &mut servicekonto::config::UpstreamConfig),
    extra: &[&str],
) -> (TestApp, Sim) {
    let mut sim = None;
    let app = TestApp::with(|c| {
        // The IdP's own port is bound already; the simulator learns its callback from it.
        let extra: Vec<String> = extra.iter().map(|e| e.replace("{idp}", &c.issuer)).collect();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (started, issuer) = Sim::start(host, &c.issuer, &extra);
        let mut upstream = Sim::upstream(&issuer);
        adjust(c, &mut upstream);
        c.upstream.push(upstream);
        sim = Some(started);
    })
    .await;
    (app, sim.unwrap())
}

/// An IdP with an ELSTER simulator as its `elster` upstream; `adjust` changes the configuration.
pub async fn app_with_elster(adjust: impl FnOnce(&mut Config)) -> (TestApp, Sim) {
    let mut sim = None;
    let app = TestApp::with(|c| {
        let (started, issuer) = Sim::start_kind("elster", "elster", "127.0.0.1", &c.issuer, &[]);
        c.upstream.push(Sim::elster_upstream(&issuer));
        adjust(c);
        sim = Some(started);
    })
    .await;
    (app, sim.unwrap())
}

/// How the tester answers at the simulator.
pub struct AtSim<'a> {
    /// Who authenticates: a person (eID) or a certificate (ELSTER).
    pub person: &'a str,
    /// The page's checkbox: the eID transfers the pseudonym, ELSTER releases the organisation's
    /// data.
    pub ticked: bool,
    pub fault: &'a str,
    pub cancel: bool,
}

impl Default for AtSim<'_> {
    fn default() -> Self {
        Self {
            person: "erika",
            ticked: true,
            fault: "none",
            cancel: false,
        }
    }
}

impl Browser {
    /// Starts an upstream login for `purpose` (and `txn`), answers at the simulator and returns
    /// the IdP callback URL the simulator sends the browser back to.
    pub async fn to_sim_and_back(&self, purpose: &str, txn: Option<&str>, answer: AtSim<'_>) -> String {
        self.to_upstream_and_back("eid", purpose, txn, answer).await
    }

    /// `to_sim_and_back` through upstream `id`.
    pub async fn to_upstream_and_back(&self, id: &str, purpose: &str, txn: Option<&str>, answer: AtSim<'_>) -> String {
        let mut fields = vec![("purpose", purpose)];
        if let Some(t) = txn {
            fields.push(("txn", t));
        }
        let (status, location) = self.submit(&format!("/upstream/{id}/start"), &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        self.at_sim(location.strip_prefix("redirect:").unwrap(), answer).await
    }

    /// Answers at the simulator page `sim_url` (where an IdP sent the browser); returns the IdP
    /// callback URL the simulator sends the browser back to.
    pub async fn at_sim(&self, sim_url: &str, answer: AtSim<'_>) -> String {
        let page = self.http.get(sim_url).send().await.unwrap().text().await.unwrap();
        // The page names its checkbox.
        let checkbox = page
            .split_once("type=\"checkbox\" id=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(name, _)| name.to_string());
        let mut form = vec![
            ("person", answer.person.to_string()),
            ("fault", answer.fault.to_string()),
            ("decision", if answer.cancel { "cancel" } else { "ok" }.to_string()),
        ];
        if answer.ticked
            && let Some(name) = &checkbox
        {
            form.push((name.as_str(), "yes".into()));
        }
        for name in ["state", "nonce", "code_challenge", "redirect_uri"] {
            if let Some(v) = form_value(&page, name) {
                form.push((name, v.replace("&#39;", "'")));
            }
        }
        let base = url::Url::parse(sim_url).unwrap();
        let res = self.http.post(base.join("/authorize").unwrap()).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        res.headers()[LOCATION].to_str().unwrap().to_string()
    }

    /// Does the whole upstream round trip and returns the IdP's answer at the callback.
    pub async fn via_sim(&self, purpose: &str, txn: Option<&str>, answer: AtSim<'_>) -> (StatusCode, String) {
        let back = self.to_sim_and_back(purpose, txn, answer).await;
        self.page(&back).await
    }

    /// `via_sim` through upstream `id`.
    pub async fn via_upstream(&self, id: &str, purpose: &str, txn: Option<&str>, answer: AtSim<'_>) -> (StatusCode, String) {
        let back = self.to_upstream_and_back(id, purpose, txn, answer).await;
        self.page(&back).await
    }
}
