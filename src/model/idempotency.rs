//! What the store keeps for an idempotency key (R-API-4).

use crate::clock::Timestamp;

/// The answer a create gave, to be given again to a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The HTTP status.
    pub status: u16,
    /// Its content type.
    pub content_type: Option<String>,
    /// Where the created object is (`Location`).
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

/// A claimed key: the request it was first used with, and the answer once there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// A digest of the first request.
    pub fingerprint: String,
    /// The answer; `None` while the first request still runs.
    pub answer: Option<StoredAnswer>,
    /// When the key was first used.
    pub created_at: Timestamp,
}
