//! The one place that reads the wall clock. Everything below the HTTP edge receives `now`
//! as an argument, so tests can fix it.

/// Seconds since the Unix epoch, UTC: the only time unit stored or compared.
pub type Timestamp = i64;

/// The current time.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
