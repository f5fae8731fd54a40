//! A mail in the delivery queue.

use crate::clock::Timestamp;

/// One mail waiting for delivery, already formatted (RFC 5322).
#[derive(Debug, Clone)]
pub struct QueuedMail {
    /// Queue id.
    pub id: String,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipient.
    pub recipient: String,
    /// The whole message.
    pub message: String,
    /// Which template it came from (for logs; never the recipient).
    pub kind: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
}
