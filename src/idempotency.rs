//! Idempotent creates (R-API-4): a service sends an `Idempotency-Key` with a create, and a retry
//! with the same key — after a timeout, on another node — gets the first answer again instead
//! of a second object. The key is claimed in the store before the create runs, so two tries at
//! once cannot both run; it names one request only (a different body with it is refused) and
//! lives [`KEY_SECONDS`].

use crate::clock::Timestamp;
use crate::model::idempotency::StoredAnswer;
use crate::secret::sha256_b64;
use crate::store::{Store, StoreError};

/// How long a key and its answer are kept: a day of retries.
pub const KEY_SECONDS: i64 = 24 * 3600;
/// A claim without an answer after this long belongs to a request whose node went away.
const ABANDONED_SECONDS: i64 = 60;

/// Whether a request with an idempotency key runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// First use: run it, then [`finish`].
    Run,
    /// A retry of a finished request: its answer.
    Replay(StoredAnswer),
    /// The first request with this key still runs.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// The digest that tells two requests apart: the operation and its body.
pub fn fingerprint(operation: &str, body: &[u8]) -> String {
    let mut input = Vec::with_capacity(operation.len() + 1 + body.len());
    input.extend_from_slice(operation.as_bytes());
    input.push(0);
    input.extend_from_slice(body);
    sha256_b64(&input)
}

/// Claims `key` of `caller` (the client and subject a token stands for) for the request with
/// `fingerprint`, or says why it does not run.
pub async fn begin(store: &Store, caller: &str, key: &str, fingerprint: &str, now: Timestamp) -> Result<Begin, StoreError> {
    for _ in 0..2 {
        if store
            .claim_idempotency_key((caller, key), fingerprint, now, now + KEY_SECONDS)
            .await?
        {
            return Ok(Begin::Run);
        }
        let Some(record) = store.idempotency_record((caller, key), now).await? else {
            // Gone between the two statements (expired, released): claim again.
            continue;
        };
        if record.fingerprint != fingerprint {
            return Ok(Begin::Mismatch);
        }
        match record.answer {
            Some(answer) => return Ok(Begin::Replay(answer)),
            None if record.created_at < now - ABANDONED_SECONDS => {
                store.release_idempotency_key((caller, key), now - ABANDONED_SECONDS).await?;
            }
            None => return Ok(Begin::InProgress),
        }
    }
    Ok(Begin::InProgress)
}

/// Ends a request that [`begin`] let run: its answer is kept for retries, or, with `None` (it
/// failed inside and changed nothing), the key is given back so a retry runs again.
pub async fn finish(store: &Store, caller: &str, key: &str, answer: Option<&StoredAnswer>, now: Timestamp) -> Result<(), StoreError> {
    match answer {
        Some(answer) => store.record_idempotent_answer((caller, key), answer).await,
        // Every claim of this key is older than a moment from now.
        None => store.release_idempotency_key((caller, key), now + 1).await,
    }
}

/// Removes keys past their time; how many.
pub async fn purge(store: &Store, now: Timestamp) -> Result<u64, StoreError> {
    store.purge_idempotency_keys(now).await
}
