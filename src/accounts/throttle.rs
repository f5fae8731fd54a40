//! Throttling of failed logins, per login name and per client address, in the ephemeral store
//! so every node counts together. After `delay_after` failures each further attempt for that
//! name must wait (1 s, doubling, at most 60 s); after `lock_after` the name is locked for
//! `lock_seconds`; an address that fails `address_lock_after` times is locked as well. Counters
//! are keyed by the name typed, whether or not it has an account, so the answers reveal nothing.

use crate::clock::Timestamp;
use crate::config::ThrottleConfig;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::secret::sha256_b64;

/// Mails a visitor can cause to one address per hour.
pub const MAILS_PER_HOUR: i64 = 5;

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allowed,
    /// Too soon after the last failure: wait this many seconds.
    Wait(i64),
    /// Locked for this many more seconds.
    Locked(i64),
}

impl Verdict {
    /// The catalog key of the message refusing the attempt; `None` when it may go ahead.
    pub fn refusal_key(self) -> Option<&'static str> {
        match self {
            Verdict::Allowed => None,
            Verdict::Wait(_) => Some("login_wait"),
            Verdict::Locked(_) => Some("login_locked"),
        }
    }
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Counted; nothing else.
    Counted,
    /// The next attempt must wait.
    Delayed,
    /// This failure locked the name (the owner is told once).
    NewlyLocked,
}

/// The throttle over the ephemeral store.
#[derive(Clone)]
pub struct Throttle {
    ephemeral: Ephemeral,
    config: ThrottleConfig,
}

fn name_key(kind: &str, login: &str) -> String {
    format!("login-{kind}:n:{}", sha256_b64(login.trim().to_lowercase().as_bytes()))
}

fn addr_key(kind: &str, addr: &str) -> String {
    format!("login-{kind}:a:{addr}")
}

impl Throttle {
    /// A throttle with `config`.
    pub fn new(ephemeral: Ephemeral, config: ThrottleConfig) -> Self {
        Self { ephemeral, config }
    }

    async fn remaining(&self, key: &str, now: Timestamp) -> Result<Option<i64>, EphemeralError> {
        Ok(self.ephemeral.get_json::<i64>(key, now).await?.map(|until| (until - now).max(1)))
    }

    /// Whether `login` may be tried from `addr` now.
    pub async fn check(&self, login: &str, addr: &str, now: Timestamp) -> Result<Verdict, EphemeralError> {
        if let Some(s) = self.remaining(&name_key("lock", login), now).await? {
            return Ok(Verdict::Locked(s));
        }
        if let Some(s) = self.remaining(&addr_key("lock", addr), now).await? {
            return Ok(Verdict::Locked(s));
        }
        if let Some(s) = self.remaining(&name_key("wait", login), now).await? {
            return Ok(Verdict::Wait(s));
        }
        Ok(Verdict::Allowed)
    }

    /// Counts a failed attempt.
    pub async fn failed(&self, login: &str, addr: &str, now: Timestamp) -> Result<AfterFailure, EphemeralError> {
        let c = &self.config;
        let window_end = now + c.window_seconds;
        let by_addr = self.ephemeral.count(&addr_key("fail", addr), window_end, now).await?;
        if by_addr >= c.address_lock_after {
            let until = now + c.lock_seconds;
            self.ephemeral.put_json(&addr_key("lock", addr), &until, until, now).await?;
        }
        let n = self.ephemeral.count(&name_key("fail", login), window_end, now).await?;
        if n >= c.lock_after {
            let until = now + c.lock_seconds;
            let key = name_key("lock", login);
            let fresh = self.ephemeral.remember_once(&format!("{key}:told"), until, now).await?;
            self.ephemeral.put_json(&key, &until, until, now).await?;
            self.ephemeral.delete(&name_key("fail", login)).await?;
            return Ok(if fresh { AfterFailure::NewlyLocked } else { AfterFailure::Counted });
        }
        if n >= c.delay_after {
            let wait = 1i64 << (n - c.delay_after).clamp(0, 6);
            // Whole seconds: one more, so the wait lasts at least `wait` seconds however late
            // in its second the failure came.
            let until = now + wait.min(60) + 1;
            self.ephemeral.put_json(&name_key("wait", login), &until, until, now).await?;
            return Ok(AfterFailure::Delayed);
        }
        Ok(AfterFailure::Counted)
    }

    /// Whether another mail that a visitor can trigger (registration, reset, email change) may go
    /// to `address` now: at most [`MAILS_PER_HOUR`], so the forms cannot flood a mailbox.
    pub async fn allow_mail(&self, address: &str, now: Timestamp) -> Result<bool, EphemeralError> {
        let n = self.ephemeral.count(&name_key("mail", address), now + 3600, now).await?;
        Ok(n <= MAILS_PER_HOUR)
    }

    /// Forgets the failures of `login` after a successful login.
    pub async fn succeeded(&self, login: &str) -> Result<(), EphemeralError> {
        self.ephemeral.delete(&name_key("fail", login)).await?;
        self.ephemeral.delete(&name_key("wait", login)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(
            Ephemeral::memory(),
            ThrottleConfig {
                window_seconds: 900,
                delay_after: 3,
                lock_after: 6,
                lock_seconds: 900,
                address_lock_after: 10,
            },
        )
    }

    #[tokio::test]
    async fn failures_first_delay_then_lock_the_name() {
        let t = throttle();
        for _ in 0..2 {
            assert_eq!(t.failed("a@b.de", "1.2.3.4", 0).await.unwrap(), AfterFailure::Counted);
        }
        assert_eq!(t.check("a@b.de", "1.2.3.4", 0).await.unwrap(), Verdict::Allowed);
        assert_eq!(t.failed("A@b.de ", "1.2.3.4", 0).await.unwrap(), AfterFailure::Delayed);
        assert_eq!(t.check("a@b.de", "1.2.3.4", 0).await.unwrap(), Verdict::Wait(2));
        assert_eq!(t.check("a@b.de", "1.2.3.4", 1).await.unwrap(), Verdict::Wait(1));
        assert_eq!(t.check("a@b.de", "1.2.3.4", 2).await.unwrap(), Verdict::Allowed);
        assert_eq!(t.failed("a@b.de", "1.2.3.4", 2).await.unwrap(), AfterFailure::Delayed);
        assert_eq!(t.check("a@b.de", "1.2.3.4", 2).await.unwrap(), Verdict::Wait(3));
        t.failed("a@b.de", "1.2.3.4", 10).await.unwrap();
        assert_eq!(t.failed("a@b.de", "1.2.3.4", 20).await.unwrap(), AfterFailure::NewlyLocked);
        assert_eq!(t.check("a@b.de", "5.6.7.8", 20).await.unwrap(), Verdict::Locked(900));
        assert_eq!(t.check("other@b.de", "1.2.3.4", 20).await.unwrap(), Verdict::Allowed);
        assert_eq!(t.check("a@b.de", "1.2.3.4", 921).await.unwrap(), Verdict::Allowed);
    }

    #[tokio::test]
    async fn an_address_failing_for_many_names_is_locked() {
        let t = throttle();
        for i in 0..10 {
            t.failed(&format!("u{i}@b.de"), "9.9.9.9", 0).await.unwrap();
        }
        assert!(matches!(t.check("new@b.de", "9.9.9.9", 1).await.unwrap(), Verdict::Locked(_)));
        assert_eq!(t.check("new@b.de", "1.1.1.1", 1).await.unwrap(), Verdict::Allowed);
    }

    #[tokio::test]
    async fn mails_to_one_address_are_limited_per_hour() {
        let t = throttle();
        for _ in 0..MAILS_PER_HOUR {
            assert!(t.allow_mail("a@b.de", 0).await.unwrap());
        }
        assert!(!t.allow_mail("A@b.de", 10).await.unwrap());
        assert!(t.allow_mail("c@b.de", 10).await.unwrap());
        assert!(t.allow_mail("a@b.de", 3601).await.unwrap());
    }

    #[tokio::test]
    async fn success_clears_the_delay() {
        let t = throttle();
        for _ in 0..3 {
            t.failed("a@b.de", "1.2.3.4", 0).await.unwrap();
        }
        t.succeeded("a@b.de").await.unwrap();
        assert_eq!(t.check("a@b.de", "1.2.3.4", 0).await.unwrap(), Verdict::Allowed);
    }
}
