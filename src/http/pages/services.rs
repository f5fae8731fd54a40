//! The catalogue of online services (R-SVC-2): who may use each, at what level, at what cost.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{PageLocale, Render};
use crate::clients::{self, Admits, Client};
use crate::http::cookies::{Cookies, SESSION};
use crate::protocol::authorize::Locale;
use crate::sessions::Lookup;
use crate::state::AppState;

/// Query of `GET /dienste`.
#[derive(Deserialize)]
pub struct CatalogueQuery {
    #[serde(default)]
    q: String,
}

/// One service as the catalogue shows it.
#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    description: Option<&'a str>,
    level: String,
    admits: String,
    approval: bool,
    cost_note: Option<&'a str>,
}

fn entry<'a>(state: &AppState, locale: Locale, c: &'a Client) -> Entry<'a> {
    let admits = match c.admits {
        Admits::Citizen => "services_for_citizens",
        Admits::Organisation => "services_for_organisations",
        Admits::Any => "services_for_any",
    };
    Entry {
        name: &c.name,
        description: c.description.as_deref(),
        level: state.pages.text(locale, &format!("level_{}", c.min_level.name())),
        admits: state.pages.text(locale, admits),
        approval: c.requires_approval,
        cost_note: c.cost_note.as_deref(),
    }
}

/// `GET /dienste?q=…`.
pub async fn show(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Query(q): Query<CatalogueQuery>,
) -> Response {
    let logged_in = matches!(
        state.sessions.load(cookies.get(SESSION), state.clock.now()).await,
        Ok(Lookup::Active(_))
    );
    let search = q.q.trim();
    if search.chars().count() > clients::MAX_SEARCH {
        let ctx = serde_json::json!({
            "q": search.chars().take(clients::MAX_SEARCH).collect::<String>(),
            "error": state.pages.text(locale, "services_search_too_long"),
            "services": [],
        });
        return state
            .pages
            .page(StatusCode::BAD_REQUEST, "pages/services.html", locale, logged_in, &ctx);
    }
    let all = match state.store.clients().await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "backing store failure");
            return state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None);
        }
    };
    let services: Vec<Entry> = clients::catalogue(&all, search)
        .into_iter()
        .map(|c| entry(&state, locale, c))
        .collect();
    let ctx = serde_json::json!({ "q": search, "services": services, "searched": !search.is_empty() });
    state.pages.page(StatusCode::OK, "pages/services.html", locale, logged_in, &ctx)
}
