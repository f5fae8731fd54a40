//! HTML pages for people: rendering (tera templates compiled into the binary, text from the
//! German and English message catalogs) and the pages that are not protocol endpoints.

pub mod consent;
pub mod demo;
pub mod login;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::{Value, json};
use tera::Tera;

use super::cookies::{Cookies, SESSION};
use super::paths;
use crate::clock;
use crate::protocol::authorize::Locale;
use crate::sessions::Lookup;
use crate::state::AppState;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("pages/error.html", include_str!("../../templates/pages/error.html")),
    ("pages/login.html", include_str!("../../templates/pages/login.html")),
    ("pages/consent.html", include_str!("../../templates/pages/consent.html")),
    ("pages/form_post.html", include_str!("../../templates/pages/form_post.html")),
    ("pages/logout.html", include_str!("../../templates/pages/logout.html")),
    ("pages/logged_out.html", include_str!("../../templates/pages/logged_out.html")),
    ("pages/home.html", include_str!("../../templates/pages/home.html")),
    ("pages/accessibility.html", include_str!("../../templates/pages/accessibility.html")),
    ("pages/demo.html", include_str!("../../templates/pages/demo.html")),
];

const CATALOGS: &[(Locale, &str)] = &[
    (Locale::De, include_str!("../../templates/i18n/de.toml")),
    (Locale::En, include_str!("../../templates/i18n/en.toml")),
];

const STYLE: &str = include_str!("../../templates/static/style.css");

/// Templates and message catalogs, loaded once.
#[derive(Clone)]
pub struct Pages {
    tera: Arc<Tera>,
    catalogs: Arc<HashMap<Locale, Value>>,
}

impl Pages {
    /// Compiles the templates and reads the catalogs; fails on any syntax error.
    pub fn load() -> Result<Pages, String> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied()).map_err(|e| format!("{e:?}"))?;
        tera.autoescape_on(vec![".html"]);
        let mut catalogs = HashMap::new();
        for (locale, text) in CATALOGS {
            let table: toml::Table = toml::from_str(text).map_err(|e| format!("catalog {}: {e}", locale.tag()))?;
            catalogs.insert(*locale, serde_json::to_value(table).map_err(|e| e.to_string())?);
        }
        Ok(Pages {
            tera: Arc::new(tera),
            catalogs: Arc::new(catalogs),
        })
    }

    /// A message from the catalog.
    pub fn text(&self, locale: Locale, key: &str) -> String {
        self.catalogs
            .get(&locale)
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string()
    }

    /// Renders a template with `ctx` plus the catalog (`t`), language and login state.
    pub fn render<C: Serialize>(&self, template: &str, locale: Locale, logged_in: bool, ctx: &C) -> Result<String, String> {
        let mut value = serde_json::to_value(ctx).map_err(|e| e.to_string())?;
        let Some(obj) = value.as_object_mut() else {
            return Err("page context must be an object".into());
        };
        obj.insert("t".into(), self.catalogs.get(&locale).cloned().unwrap_or(Value::Null));
        obj.insert("lang".into(), locale.tag().into());
        obj.insert("logged_in".into(), logged_in.into());
        let context = tera::Context::from_value(value).map_err(|e| e.to_string())?;
        self.tera.render(template, &context).map_err(|e| format!("{e:?}"))
    }

    /// A full HTML response.
    pub fn page<C: Serialize>(&self, status: StatusCode, template: &str, locale: Locale, logged_in: bool, ctx: &C) -> Response {
        match self.render(template, locale, logged_in, ctx) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template, error = %e, "template rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// An error page with a catalog message.
    pub fn error(&self, status: StatusCode, locale: Locale, message_key: &str, detail: Option<String>) -> Response {
        self.page(
            status,
            "pages/error.html",
            locale,
            false,
            &json!({ "message": self.text(locale, message_key), "detail": detail }),
        )
    }
}

/// Non-protocol page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::HOME, get(home))
        .route(paths::ACCESSIBILITY, get(accessibility))
        .route(paths::LOGIN, get(login::show).post(login::submit))
        .route(paths::CONSENT, get(consent::show).post(consent::submit))
}

/// The language a page without a transaction speaks: `?lang=en` or the default.
fn page_locale(query: Option<&str>) -> Locale {
    match query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    }) {
        Some(l) => Locale::from_ui_locales(&l),
        None => Locale::De,
    }
}

async fn home(State(state): State<AppState>, cookies: Cookies, axum::extract::RawQuery(q): axum::extract::RawQuery) -> Response {
    let locale = page_locale(q.as_deref());
    let now = clock::now();
    let (email, expired) = match state.sessions.load(cookies.get(SESSION), now).await {
        Ok(Lookup::Active(s)) => (state.store.account(&s.account_id).await.ok().flatten().map(|a| a.email), false),
        Ok(Lookup::Expired) => (None, true),
        _ => (None, false),
    };
    if expired {
        return Redirect::to(&format!("{}?expired=1&lang={}", paths::LOGIN, locale.tag())).into_response();
    }
    state.pages.page(
        StatusCode::OK,
        "pages/home.html",
        locale,
        email.is_some(),
        &json!({ "email": email, "demo": state.config.demo_enabled() }),
    )
}

async fn accessibility(State(state): State<AppState>, axum::extract::RawQuery(q): axum::extract::RawQuery) -> Response {
    state.pages.page(
        StatusCode::OK,
        "pages/accessibility.html",
        page_locale(q.as_deref()),
        false,
        &json!({}),
    )
}

/// `GET /static/style.css`.
pub async fn style() -> Response {
    let mut res = STYLE.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

/// Any unknown path.
pub async fn not_found(State(state): State<AppState>) -> Response {
    state.pages.error(StatusCode::NOT_FOUND, Locale::De, "err_not_found", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages() {
        let pages = Pages::load().unwrap();
        let ctx = json!({
            "message": "m", "detail": "d", "request_id": "r", "client_name": "Dienst", "expired": true, "error": "e",
            "csrf": "c", "txn": "t", "email": "a@b.de", "items": ["Vorname"], "action": "https://rp/cb",
            "fields": [["code", "x"]], "nonce": "n", "client_id": "c", "post_logout_redirect_uri": "https://rp/",
            "state": "s", "demo": true, "claims": [["sub", "x"]], "userinfo": [["sub", "x"]], "logout_url": "/logout?x=1",
        });
        for (name, _) in TEMPLATES.iter().filter(|(n, _)| *n != "layout.html") {
            for locale in [Locale::De, Locale::En] {
                let html = pages.render(name, locale, true, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(html.contains(&format!("lang=\"{}\"", locale.tag())), "{name}");
            }
        }
    }

    #[test]
    fn catalogs_have_the_same_keys() {
        let pages = Pages::load().unwrap();
        let keys = |l: Locale| {
            pages.catalogs[&l]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(keys(Locale::De), keys(Locale::En));
    }

    #[test]
    fn autoescape_is_on() {
        let pages = Pages::load().unwrap();
        let html = pages
            .render("pages/error.html", Locale::De, false, &json!({"message": "<script>x</script>"}))
            .unwrap();
        assert!(html.contains("&lt;script&gt;"));
    }
}
