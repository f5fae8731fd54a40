//! Throttling of failed logins, per login name and per client address, in the ephemeral store
//! so every node counts together. After `delay_after` failures each further attempt for that
//! name must wait (1 s, doubling, at most 60 s); after `lock_after` the name is locked for
//! `lock_seconds`; an address that fails `address_lock_after` times is locked as well. Counters
//! are keyed by the name typed, whether or not it has an account, so the answers reveal nothing.
//! Every check of a password (login, staff login, email confirmation, the current password of a
//! change or a deletion) goes through [`Throttle::check_password`], which counts an attempt
//! before its hash (R-SEC-1, R-SEC-3). Per client address, registrations and resets are
//! limited per hour, since each costs a hash.

use super::password::{Busy, HashError, Hasher};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::config::ThrottleConfig;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::secret::{Secret, sha256_b64};
use crate::store::Store;

/// Longer inputs are no password of ours (R-REG-2 allows 40 characters): refused unhashed.
const MAX_PASSWORD_BYTES: usize = 200;

/// Mails a visitor can cause to one address per hour.
pub const MAILS_PER_HOUR: i64 = 5;

/// Why a password was not accepted, or not even checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Too soon after the last failures: wait this many seconds.
    #[error("too soon after failed attempts")]
    Wait(i64),
    /// Locked; `newly` when this attempt locked it (the owner is told once).
    #[error("locked after failed attempts")]
    Locked {
        /// This attempt set the lock.
        newly: bool,
    },
    /// The password is wrong, or there is no such login (never says which).
    #[error("wrong login or password")]
    Wrong {
        /// This failure locked the name (the owner is told once).
        newly_locked: bool,
    },
    /// Every password-hashing place is taken: 503 with `Retry-After`.
    #[error(transparent)]
    Busy(Busy),
    /// The ephemeral store or the hashing failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl Denied {
    /// A wrong login or password that locked nothing.
    pub const WRONG: Denied = Denied::Wrong { newly_locked: false };

    /// The catalog key of the message shown on the form.
    pub fn message_key(&self) -> &'static str {
        match self {
            Denied::Wait(_) => "login_wait",
            Denied::Locked { .. } | Denied::Wrong { newly_locked: true } => "login_locked",
            Denied::Wrong { newly_locked: false } => "login_failed",
            Denied::Busy(_) => "login_busy",
            Denied::Unavailable(_) => "err_unavailable",
        }
    }

    /// The `outcome` label of the login metric.
    pub fn outcome(&self) -> &'static str {
        match self {
            Denied::Wait(_) => "throttled",
            Denied::Locked { .. } => "locked",
            Denied::Wrong { .. } => "failure",
            Denied::Busy(_) => "busy",
            Denied::Unavailable(_) => "error",
        }
    }

    /// Whether this says something about the caller (a wrong secret, a wait, a lock), rather
    /// than about the node (a full pool, an outage).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Denied::Busy(_) | Denied::Unavailable(_))
    }

    /// Writes a refusal to the audit log as `event` (R-SEC-6): the outcome `wrong` (a wrong
    /// password or code), `throttled` or `locked`, and a `locked` event of its own when this very
    /// failure set the lock. A full pool or an outage is no security event and is not written.
    pub async fn audit(&self, store: &Store, event: Event, wrong: &str) {
        let outcome = match self {
            Denied::Wait(_) => "throttled",
            Denied::Locked { .. } => "locked",
            Denied::Wrong { .. } => wrong,
            Denied::Busy(_) | Denied::Unavailable(_) => return,
        };
        if matches!(self, Denied::Wrong { newly_locked: true }) {
            let lock = event.clone().outcome("locked").details("locked after repeated failures");
            event.outcome(outcome).note(store).await;
            lock.note(store).await;
        } else {
            event.outcome(outcome).note(store).await;
        }
    }

    /// Whether this denial locked the name just now.
    pub fn newly_locked(&self) -> bool {
        matches!(self, Denied::Locked { newly: true } | Denied::Wrong { newly_locked: true })
    }
}

impl From<EphemeralError> for Denied {
    fn from(e: EphemeralError) -> Self {
        Denied::Unavailable(e.to_string())
    }
}

/// A check that may go ahead: already counted as a failure, so parallel guesses all count.
struct Attempt {
    by_name: i64,
    by_addr: i64,
}

/// The throttle over the ephemeral store.
#[derive(Clone)]
pub struct Throttle {
    ephemeral: Ephemeral,
    config: ThrottleConfig,
}

/// The key of a login name: the name as the account lookup normalises it (trimmed, lower
/// case), whole, so neither padding nor case gives a name fresh counters.
fn name_key(kind: &str, login: &str) -> String {
    format!("login-{kind}:n:{}", sha256_b64(login.trim().to_lowercase().as_bytes()))
}

fn addr_key(kind: &str, addr: &str) -> String {
    format!("login-{kind}:a:{addr}")
}

/// What a client address may do only so often per hour, whatever the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressAction {
    /// Submitting a registration (R-REG-1; it costs a password hash).
    Register,
    /// Asking for a reset link or setting a new password with one (R-SES-4).
    Reset,
    /// Starting an authorization, which may keep a transaction (R-SEC-2).
    Authorize,
}

impl Throttle {
    /// A throttle with `config`.
    pub fn new(ephemeral: Ephemeral, config: ThrottleConfig) -> Self {
        Self { ephemeral, config }
    }

    /// Seconds until the wait or lock at `key` ends, judged by our clock (not the backend's
    /// expiry, which runs on its own).
    async fn remaining(&self, key: &str, now: Timestamp) -> Result<Option<i64>, EphemeralError> {
        Ok(self
            .ephemeral
            .get_json::<Timestamp>(key, now)
            .await?
            .filter(|until| *until > now)
            .map(|until| until - now))
    }

    /// Checks `password` for `login` from `addr` against `stored` (a dummy hash when `None`, so
    /// both cost the same), in the order R-SEC-1 asks: a place in the hashing pool first (so a
    /// full pool counts nothing against anyone), then the locks and waits, then the attempt is
    /// counted as a failure *before* the hash, so parallel guesses all count and those beyond
    /// the limit are refused unchecked; a success takes its count back.
    pub async fn check_password(
        &self,
        hasher: &Hasher,
        login: &str,
        addr: &str,
        password: Secret<String>,
        stored: Option<Secret<String>>,
        now: Timestamp,
    ) -> Result<(), Denied> {
        if password.expose().len() > MAX_PASSWORD_BYTES {
            return Err(Denied::WRONG);
        }
        let slot = hasher.reserve().map_err(Denied::Busy)?;
        let attempt = self.attempt(login, addr, now).await?;
        let ok = match slot.verify(password, stored).await {
            Ok(ok) => ok,
            Err(HashError::Busy(b)) => return Err(Denied::Busy(b)),
            Err(HashError::Failed(e)) => return Err(Denied::Unavailable(e)),
        };
        if ok {
            self.succeeded(login, addr, now).await?;
            return Ok(());
        }
        let newly_locked = self.failed(login, addr, attempt, now).await?;
        Err(Denied::Wrong { newly_locked })
    }

    /// Checks a one-time code for `login` from `addr` with the same locks, waits and counting as
    /// a password (counted before `check` runs, so parallel guesses all count); `check` says
    /// whether the code is right.
    pub async fn check_code(
        &self,
        login: &str,
        addr: &str,
        now: Timestamp,
        check: impl std::future::Future<Output = Result<bool, Denied>>,
    ) -> Result<(), Denied> {
        let attempt = self.attempt(login, addr, now).await?;
        if check.await? {
            self.succeeded(login, addr, now).await?;
            return Ok(());
        }
        let newly_locked = self.failed(login, addr, attempt, now).await?;
        Err(Denied::Wrong { newly_locked })
    }

    /// Refuses an attempt that a lock or a wait forbids; otherwise counts it.
    async fn attempt(&self, login: &str, addr: &str, now: Timestamp) -> Result<Attempt, Denied> {
        let c = &self.config;
        if self.remaining(&name_key("lock", login), now).await?.is_some() || self.remaining(&addr_key("lock", addr), now).await?.is_some() {
            return Err(Denied::Locked { newly: false });
        }
        if let Some(s) = self.remaining(&name_key("wait", login), now).await? {
            return Err(Denied::Wait(s));
        }
        let window_end = now + c.window_seconds;
        let by_addr = self.ephemeral.count(&addr_key("fail", addr), window_end, now).await?;
        if by_addr > c.address_lock_after {
            self.lock(&addr_key("lock", addr), now).await?;
            return Err(Denied::Locked { newly: false });
        }
        let by_name = self.ephemeral.count(&name_key("fail", login), window_end, now).await?;
        if by_name > c.lock_after {
            // Earlier attempts, still being checked, used up what this name may try.
            let newly = self.lock_name(login, now).await?;
            return Err(Denied::Locked { newly });
        }
        if self.remaining(&name_key("lock", login), now).await?.is_some() {
            // Locked while this attempt was counted: a lock is set before its counter is
            // cleared, so an attempt counted after the clearing finds the lock here.
            return Err(Denied::Locked { newly: false });
        }
        Ok(Attempt { by_name, by_addr })
    }

    async fn lock(&self, key: &str, now: Timestamp) -> Result<(), EphemeralError> {
        let until = now + self.config.lock_seconds;
        self.ephemeral.put_json(key, &until, until, now).await
    }

    /// Locks `login` and clears its failures (fresh attempts once the lock ends); `true` the
    /// first time within the lock (the owner is told once).
    async fn lock_name(&self, login: &str, now: Timestamp) -> Result<bool, EphemeralError> {
        let key = name_key("lock", login);
        let until = now + self.config.lock_seconds;
        let fresh = self.ephemeral.remember_once(&format!("{key}:told"), until, now).await?;
        self.lock(&key, now).await?;
        self.ephemeral.delete(&name_key("fail", login)).await?;
        Ok(fresh)
    }

    async fn delay(&self, login: &str, failures: i64, now: Timestamp) -> Result<(), EphemeralError> {
        let wait = 1i64 << (failures - self.config.delay_after).clamp(0, 6);
        // Whole seconds: one more, so the wait lasts at least `wait` seconds however late in
        // its second the failure came.
        let until = now + wait.min(60) + 1;
        self.ephemeral.put_json(&name_key("wait", login), &until, until, now).await
    }

    /// After a wrong password (already counted): locks what reached its limit, or makes the next
    /// attempt wait; `true` when this locked the name.
    async fn failed(&self, login: &str, addr: &str, attempt: Attempt, now: Timestamp) -> Result<bool, EphemeralError> {
        let c = &self.config;
        if attempt.by_addr >= c.address_lock_after {
            self.lock(&addr_key("lock", addr), now).await?;
        }
        if attempt.by_name >= c.lock_after {
            return self.lock_name(login, now).await;
        }
        if attempt.by_name >= c.delay_after {
            // After the failure, not before the hash: a few logins of one account at the same
            // moment (a household, a test suite) must not make each other wait; the lock above
            // still bounds what parallel guesses can check.
            self.delay(login, attempt.by_name, now).await?;
        }
        Ok(false)
    }

    /// After a right password: the name's failures are forgotten, and the address gets back
    /// the attempt counted in advance.
    async fn succeeded(&self, login: &str, addr: &str, now: Timestamp) -> Result<(), EphemeralError> {
        self.ephemeral.delete(&name_key("fail", login)).await?;
        self.ephemeral.delete(&name_key("wait", login)).await?;
        self.ephemeral.uncount(&addr_key("fail", addr), now).await
    }

    /// Whether another mail that a visitor can trigger (registration, reset, email change) may go
    /// to `address` now: at most [`MAILS_PER_HOUR`], so the forms cannot flood a mailbox.
    pub async fn allow_mail(&self, address: &str, now: Timestamp) -> Result<bool, EphemeralError> {
        let n = self.ephemeral.count(&name_key("mail", address), now + 3600, now).await?;
        Ok(n <= MAILS_PER_HOUR)
    }

    /// Counts one `action` from the client address `addr`; `false` once the address has used up
    /// its hour (the page says so, and no password is hashed).
    pub async fn allow_from(&self, action: AddressAction, addr: &str, now: Timestamp) -> Result<bool, EphemeralError> {
        let c = &self.config;
        let (kind, limit, total) = match action {
            AddressAction::Register => ("register", c.registrations_per_hour, Some(c.registrations_total_per_hour)),
            AddressAction::Reset => ("reset", c.resets_per_hour, None),
            AddressAction::Authorize => ("authorize", c.authorizations_per_hour, Some(c.authorizations_total_per_hour)),
        };
        let n = self.ephemeral.count(&addr_key(kind, addr), now + 3600, now).await?;
        if n > limit {
            return Ok(false);
        }
        // All addresses together, so many addresses cannot fill the store either; counted in
        // hours of the clock, one key per action.
        match total {
            Some(total) => {
                let hour = now - now.seconds().rem_euclid(3600);
                let all = self.ephemeral.count(&format!("anon-{kind}:{hour}"), hour + 3600, now).await?;
                Ok(all <= total)
            }
            None => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(delay_after: i64, lock_after: i64, address_lock_after: i64) -> Throttle {
        Throttle::new(
            Ephemeral::memory(),
            ThrottleConfig {
                window_seconds: 900,
                delay_after,
                lock_after,
                lock_seconds: 900,
                address_lock_after,
                registrations_per_hour: 2,
                resets_per_hour: 3,
                registrations_total_per_hour: 5,
                authorizations_per_hour: 4,
                authorizations_total_per_hour: 6,
            },
        )
    }

    fn pw(s: &str) -> Secret<String> {
        Secret::new(s.to_string())
    }

    struct Fixture {
        t: Throttle,
        hasher: Hasher,
        stored: Secret<String>,
    }

    impl Fixture {
        async fn new(t: Throttle, hasher: Hasher) -> Fixture {
            let stored = hasher.hash(pw("ABab1234")).await.unwrap();
            Fixture { t, hasher, stored }
        }

        async fn try_login(&self, name: &str, addr: &str, password: &str, now: Timestamp) -> Result<(), Denied> {
            self.t
                .check_password(&self.hasher, name, addr, pw(password), Some(self.stored.clone()), now)
                .await
        }
    }

    #[tokio::test]
    async fn failures_first_delay_then_lock_the_name() {
        let f = Fixture::new(throttle(3, 6, 50), Hasher::new(1, 4)).await;
        for _ in 0..2 {
            assert_eq!(f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(0)).await, Err(Denied::WRONG));
        }
        assert_eq!(f.try_login("A@b.de ", "1.2.3.4", "wrong", Timestamp(0)).await, Err(Denied::WRONG));
        assert_eq!(
            f.try_login("a@b.de", "1.2.3.4", "ABab1234", Timestamp(0)).await,
            Err(Denied::Wait(2))
        );
        assert_eq!(
            f.try_login("a@b.de", "1.2.3.4", "ABab1234", Timestamp(1)).await,
            Err(Denied::Wait(1))
        );
        assert_eq!(f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(2)).await, Err(Denied::WRONG));
        assert_eq!(f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(2)).await, Err(Denied::Wait(3)));
        assert!(f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(10)).await.is_err());
        assert_eq!(
            f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(20)).await,
            Err(Denied::Wrong { newly_locked: true })
        );
        assert_eq!(
            f.try_login("a@b.de", "5.6.7.8", "ABab1234", Timestamp(20)).await,
            Err(Denied::Locked { newly: false })
        );
        assert_eq!(f.try_login("other@b.de", "1.2.3.4", "ABab1234", Timestamp(20)).await, Ok(()));
        assert_eq!(f.try_login("a@b.de", "1.2.3.4", "ABab1234", Timestamp(921)).await, Ok(()));
    }

    #[tokio::test]
    async fn r_sec_1_parallel_guesses_all_count_and_those_beyond_the_limit_are_not_checked() {
        let f = std::sync::Arc::new(Fixture::new(throttle(100, 6, 1000), Hasher::new(2, 64)).await);
        let guesses: Vec<_> = (0..30)
            .map(|i| {
                let f = f.clone();
                tokio::spawn(async move { f.try_login("a@b.de", "1.2.3.4", &format!("guess{i}"), Timestamp(0)).await })
            })
            .collect();
        let mut checked = 0;
        for g in guesses {
            match g.await.unwrap() {
                Err(Denied::Wrong { .. }) => checked += 1,
                Err(Denied::Locked { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(checked <= 6, "{checked} guesses were checked");
        assert_eq!(
            f.try_login("a@b.de", "9.9.9.9", "ABab1234", Timestamp(1)).await,
            Err(Denied::Locked { newly: false })
        );
    }

    #[tokio::test]
    async fn r_sec_1_a_full_pool_refuses_before_anything_is_counted() {
        let f = Fixture::new(throttle(1, 5, 1), Hasher::new(1, 0)).await;
        let held = f.hasher.reserve().unwrap();
        for _ in 0..5 {
            assert!(matches!(
                f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(0)).await,
                Err(Denied::Busy(_))
            ));
        }
        drop(held);
        assert_eq!(f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(0)).await, Err(Denied::WRONG));
        assert!(matches!(
            f.try_login("a@b.de", "1.2.3.5", "ABab1234", Timestamp(0)).await,
            Err(Denied::Wait(_))
        ));
    }

    #[tokio::test]
    async fn an_address_failing_for_many_names_is_locked_but_its_successes_count_nothing() {
        let f = Fixture::new(throttle(3, 10, 3), Hasher::new(1, 4)).await;
        for i in 0..10 {
            assert_eq!(
                f.try_login(&format!("ok{i}@b.de"), "9.9.9.9", "ABab1234", Timestamp(0)).await,
                Ok(())
            );
        }
        for i in 0..3 {
            assert!(matches!(
                f.try_login(&format!("u{i}@b.de"), "9.9.9.9", "wrong", Timestamp(0)).await,
                Err(Denied::Wrong { .. })
            ));
        }
        assert_eq!(
            f.try_login("new@b.de", "9.9.9.9", "ABab1234", Timestamp(1)).await,
            Err(Denied::Locked { newly: false })
        );
        assert_eq!(f.try_login("new@b.de", "1.1.1.1", "ABab1234", Timestamp(1)).await, Ok(()));
    }

    #[tokio::test]
    async fn success_clears_the_delay() {
        let f = Fixture::new(throttle(3, 10, 50), Hasher::new(1, 4)).await;
        for _ in 0..2 {
            let _ = f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(0)).await;
        }
        assert_eq!(f.try_login("a@b.de", "1.2.3.4", "ABab1234", Timestamp(0)).await, Ok(()));
        for _ in 0..2 {
            assert_eq!(f.try_login("a@b.de", "1.2.3.4", "wrong", Timestamp(0)).await, Err(Denied::WRONG));
        }
    }

    #[tokio::test]
    async fn mails_to_one_address_are_limited_per_hour() {
        let t = throttle(3, 6, 10);
        for _ in 0..MAILS_PER_HOUR {
            assert!(t.allow_mail("a@b.de", Timestamp(0)).await.unwrap());
        }
        assert!(!t.allow_mail("A@b.de", Timestamp(10)).await.unwrap());
        assert!(t.allow_mail("c@b.de", Timestamp(10)).await.unwrap());
        assert!(t.allow_mail("a@b.de", Timestamp(3601)).await.unwrap());
    }

    #[tokio::test]
    async fn r_sec_1_registrations_and_resets_are_limited_per_address_and_hour() {
        let t = throttle(3, 6, 10);
        for _ in 0..2 {
            assert!(t.allow_from(AddressAction::Register, "1.2.3.4", Timestamp(0)).await.unwrap());
        }
        assert!(!t.allow_from(AddressAction::Register, "1.2.3.4", Timestamp(10)).await.unwrap());
        assert!(t.allow_from(AddressAction::Register, "1.2.3.5", Timestamp(10)).await.unwrap());
        for _ in 0..3 {
            assert!(t.allow_from(AddressAction::Reset, "1.2.3.4", Timestamp(10)).await.unwrap());
        }
        assert!(!t.allow_from(AddressAction::Reset, "1.2.3.4", Timestamp(10)).await.unwrap());
        assert!(t.allow_from(AddressAction::Register, "1.2.3.4", Timestamp(3601)).await.unwrap());
    }

    #[tokio::test]
    async fn r_sec_2_authorizations_are_bounded_per_address_and_in_all() {
        let t = throttle(3, 6, 10);
        for _ in 0..4 {
            assert!(t.allow_from(AddressAction::Authorize, "1.2.3.4", Timestamp(0)).await.unwrap());
        }
        assert!(
            !t.allow_from(AddressAction::Authorize, "1.2.3.4", Timestamp(1)).await.unwrap(),
            "this address is done"
        );
        assert!(t.allow_from(AddressAction::Authorize, "1.2.3.5", Timestamp(1)).await.unwrap());
        assert!(t.allow_from(AddressAction::Authorize, "1.2.3.6", Timestamp(2)).await.unwrap());
        assert!(
            !t.allow_from(AddressAction::Authorize, "1.2.3.7", Timestamp(2)).await.unwrap(),
            "all addresses are done"
        );
        assert!(
            t.allow_from(AddressAction::Authorize, "1.2.3.7", Timestamp(3600)).await.unwrap(),
            "a new hour"
        );
    }
}
