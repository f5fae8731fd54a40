//! The one place that reads the wall clock. Everything below the HTTP edge receives `now`
//! as an argument, so tests can fix it.

/// Seconds since the Unix epoch, UTC: the time unit stored, compared and put in tokens. A type
/// of its own, so neither a bare number nor [`Millis`] is taken for it; durations stay plain
/// seconds (`i64`): a time plus seconds is a time, a time minus a time is seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The epoch's seconds.
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// The same instant in milliseconds.
    pub fn millis(self) -> Millis {
        Millis(self.0.saturating_mul(1000))
    }
}

impl std::ops::Add<i64> for Timestamp {
    type Output = Timestamp;

    fn add(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }
}

impl std::ops::AddAssign<i64> for Timestamp {
    fn add_assign(&mut self, seconds: i64) {
        *self = *self + seconds;
    }
}

impl std::ops::Sub<i64> for Timestamp {
    type Output = Timestamp;

    fn sub(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(seconds))
    }
}

impl std::ops::Sub for Timestamp {
    type Output = i64;

    /// The seconds from `earlier` to `self`.
    fn sub(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl From<Timestamp> for serde_json::Value {
    fn from(t: Timestamp) -> serde_json::Value {
        t.0.into()
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The current time.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    Timestamp(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// Milliseconds since the Unix epoch, where one second is too coarse to order two events (a
/// session that started just after all sessions of its account were ended). A type of its own,
/// so it is never taken for a [`Timestamp`] in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// One millisecond later.
    pub fn next(self) -> Millis {
        Millis(self.0.saturating_add(1))
    }
}

/// The current time in milliseconds.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> Millis {
    Millis(i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// `at` as an RFC 3339 UTC time (`2026-12-02T08:00:00Z`), the form every API and log shows.
pub fn rfc3339(at: Timestamp) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(at.0)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The application's clock, one per state: the system time plus an offset that only tests move
/// (they step over an expiry instead of sleeping through it). Every request reads it once.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// The system's time.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        now() + self.offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current time in milliseconds.
    pub fn now_ms(&self) -> Millis {
        Millis(now_ms().0 + self.offset.load(std::sync::atomic::Ordering::Relaxed) * 1000)
    }

    /// Moves this clock, and every clone of it, `seconds` forward (tests).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_clone() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(3600);
        assert!(copy.now() >= before + 3600);
        assert!(copy.now_ms() >= (before + 3600).millis());
    }
}
