//! The one place that reads the wall clock. Everything below the HTTP edge receives `now`
//! as an argument, so tests can fix it.

/// Seconds since the Unix epoch, UTC: the only time unit stored or compared.
pub type Timestamp = i64;

/// The current time.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The current time in milliseconds, where one second is too coarse to order two events
/// (a session that started just after all sessions of its account were ended).
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
