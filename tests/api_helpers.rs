//! The API's helpers for the resources to come (R-API-4), driven over HTTP through a small
//! resource of the test's own, served on two nodes of one database: idempotent creates, paged
//! lists with an opaque cursor, and updates under `If-Match`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reqwest::StatusCode;
use serde_json::{Value, json};
use servicekonto::http::api::ApiError;
use servicekonto::http::api::idempotent::{IdempotencyKey, once};
use servicekonto::http::api::paging::{Page, PageQuery};
use servicekonto::http::api::preconditions::{ETag, IfMatch};
use servicekonto::idempotency::fingerprint;
use servicekonto::state::AppState;
use tokio::sync::Mutex;

use crate::support::*;

/// The test's resource: notes, kept in memory, shared by both nodes (the idempotency keys are
/// in the database, which is what is under test).
#[derive(Clone, Default)]
struct Notes {
    items: Arc<Mutex<Vec<Value>>>,
    creates: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Node {
    app: AppState,
    notes: Notes,
}

async fn create(State(node): State<Node>, key: IdempotencyKey, Json(body): Json<Value>) -> Response {
    let print = fingerprint("POST /notes", &serde_json::to_vec(&body).unwrap());
    let now = node.app.clock.now();
    let notes = node.notes.clone();
    once(&node.app.store, "client:test|sub:erika", &key, &print, now, async move {
        if body["text"].as_str().unwrap_or_default().is_empty() {
            return ApiError::BadRequest("a note needs a text".into()).into_response();
        }
        if body["text"] == "fail" {
            return ApiError::Unavailable.into_response();
        }
        let n = notes.creates.fetch_add(1, Ordering::SeqCst) + 1;
        if body["text"] == "slow" {
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        }
        let note = json!({ "id": format!("note-{n:03}"), "text": body["text"] });
        notes.items.lock().await.push(note.clone());
        let mut res = (AxumStatus::CREATED, Json(note)).into_response();
        res.headers_mut().insert("location", format!("/notes/note-{n:03}").parse().unwrap());
        res
    })
    .await
}

async fn list(State(node): State<Node>, Query(q): Query<PageQuery>) -> Result<Json<Page<Value>>, ApiError> {
    let request = q.checked()?;
    let items = node.notes.items.lock().await;
    let after = request.after.clone().unwrap_or_default();
    let rest: Vec<Value> = items
        .iter()
        .filter(|n| n["id"].as_str().unwrap() > after.as_str())
        .take(request.limit as usize + 1)
        .cloned()
        .collect();
    Ok(Json(Page::of(rest, &request, |n| n["id"].as_str().unwrap().to_owned())))
}

async fn read(State(node): State<Node>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let items = node.notes.items.lock().await;
    let note = items.iter().find(|n| n["id"] == id.as_str()).ok_or(ApiError::NotFound)?;
    let mut res = Json(note.clone()).into_response();
    ETag::of(note).put(res.headers_mut());
    Ok(res)
}

async fn update(
    State(node): State<Node>,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let mut items = node.notes.items.lock().await;
    let note = items.iter_mut().find(|n| n["id"] == id.as_str()).ok_or(ApiError::NotFound)?;
    if_match.check(&ETag::of(note))?;
    note["text"] = body["text"].clone();
    let mut headers = HeaderMap::new();
    ETag::of(note).put(&mut headers);
    Ok((headers, Json(note.clone())).into_response())
}

/// Serves the notes on `app`'s state; the base URL.
async fn serve(app: AppState, notes: Notes) -> String {
    let router = axum::Router::new()
        .route("/notes", post(create).get(list))
        .route("/notes/{id}", get(read).put(update))
        .with_state(Node { app, notes });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

async fn post_note(http: &reqwest::Client, base: &str, key: Option<&str>, text: &str) -> (StatusCode, Value, HeaderMap) {
    let mut req = http.post(format!("{base}/notes")).json(&json!({ "text": text }));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let mut h = HeaderMap::new();
    for (k, v) in headers.iter() {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
            v.to_str().unwrap().parse().unwrap(),
        );
    }
    (status, res.json().await.unwrap_or(Value::Null), h)
}

#[tokio::test]
async fn r_api_4_a_retried_create_creates_nothing_twice_on_either_node() {
    let app = TestApp::start().await;
    let second = servicekonto::server::prepare((*app.state.config).clone()).await.unwrap();
    let notes = Notes::default();
    let a = serve(app.state.clone(), notes.clone()).await;
    let b = serve(second, notes.clone()).await;
    let http = app.http();

    let (status, first, headers) = post_note(&http, &a, Some("key-1"), "Antrag").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(headers["location"], "/notes/note-001");
    assert!(headers.get("idempotent-replayed").is_none());
    // The retry, on the other node: the same answer, marked, and no second note.
    let (status, again, headers) = post_note(&http, &b, Some("key-1"), "Antrag").await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(headers["location"], "/notes/note-001");
    assert_eq!(notes.creates.load(Ordering::SeqCst), 1);

    // The key with another body: refused, nothing created.
    let (status, problem, _) = post_note(&http, &a, Some("key-1"), "Widerspruch").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // No key, or a malformed one: refused.
    assert_eq!(post_note(&http, &a, None, "Antrag").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(post_note(&http, &a, Some(""), "Antrag").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        post_note(&http, &a, Some(&"k".repeat(256)), "Antrag").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(notes.creates.load(Ordering::SeqCst), 1);

    // A refusal is the answer too: the retry gets it again without running.
    let (status, _, _) = post_note(&http, &a, Some("key-2"), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, headers) = post_note(&http, &b, Some("key-2"), "").await;
    assert_eq!(
        (status, &headers["idempotent-replayed"]),
        (StatusCode::BAD_REQUEST, &"true".parse().unwrap())
    );

    // An outage inside keeps nothing: the retry runs again.
    assert_eq!(post_note(&http, &a, Some("key-3"), "fail").await.0, StatusCode::SERVICE_UNAVAILABLE);
    let (_, _, headers) = post_note(&http, &b, Some("key-3"), "fail").await;
    assert!(headers.get("idempotent-replayed").is_none(), "ran again");

    // Two tries at once: one runs, the other hears it is still running.
    let (slow, quick) = tokio::join!(post_note(&http, &a, Some("key-4"), "slow"), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        post_note(&http, &b, Some("key-4"), "slow").await
    });
    assert_eq!((slow.0, quick.0), (StatusCode::CREATED, StatusCode::CONFLICT), "{}", quick.1);
    assert_eq!(notes.creates.load(Ordering::SeqCst), 2);

    // A day later the key is free again.
    app.state.clock.advance(servicekonto::idempotency::KEY_SECONDS + 1);
    let (status, _, headers) = post_note(&http, &a, Some("key-1"), "Widerspruch").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn r_api_4_lists_page_with_an_opaque_cursor_and_updates_honour_if_match() {
    let app = TestApp::start().await;
    let notes = Notes::default();
    let base = serve(app.state.clone(), notes.clone()).await;
    let http = app.http();
    for i in 0..5 {
        let (status, _, _) = post_note(&http, &base, Some(&format!("k{i}")), &format!("Notiz {i}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // Pages of two, followed to the end by their cursors.
    let mut seen = Vec::new();
    let mut url = format!("{base}/notes?limit=2");
    loop {
        let page: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = page["next_cursor"].as_str() else { break };
        assert!(!next.contains("note-"), "the cursor is opaque: {next}");
        url = format!("{base}/notes?limit=2&cursor={next}");
    }
    assert_eq!(seen, ["note-001", "note-002", "note-003", "note-004", "note-005"]);
    for bad in ["cursor=bm90LW91cnM", "limit=0", "limit=101"] {
        let res = http.get(format!("{base}/notes?{bad}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }

    // If-Match: the current tag updates, a stale one is refused and changes nothing.
    let res = http.get(format!("{base}/notes/note-001")).send().await.unwrap();
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    let put = |tag: Option<String>, text: &'static str| {
        let mut req = http.put(format!("{base}/notes/note-001")).json(&json!({ "text": text }));
        if let Some(t) = tag {
            req = req.header("if-match", t);
        }
        req.send()
    };
    let res = put(Some(tag.clone()), "geändert").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let new_tag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    let res = put(Some(tag), "verloren").await.unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(notes.items.lock().await[0]["text"], "geändert", "a stale update changes nothing");
    assert_eq!(put(None, "ohne Bedingung").await.unwrap().status(), StatusCode::OK);
}
