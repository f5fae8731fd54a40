//! Login sessions (R-SES-2, R-SES-3) in the ephemeral store. The browser holds only a random
//! id in an HttpOnly session cookie; the store keys it by its SHA-256. A session ends after
//! `idle_seconds` without activity and `absolute_seconds` after login; an idle-expired session
//! is remembered briefly so the user can be told what happened.

use serde::{Deserialize, Serialize};

use crate::clock::{Millis, Timestamp};
use crate::config::SessionConfig;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::ids::{AccountId, SessionId, StaffId};
use crate::secret::{random_token, sha256_b64};
use crate::trust::{Method, TrustLevel, decayed};

/// How long an expired session is remembered to show the "session expired" page.
const EXPIRED_NOTICE_SECONDS: i64 = 3600;

/// Whose a session is: a citizen's account, or a staff member of the Kundenzentrum (who has no
/// account and reaches only the staff pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Holder {
    /// An account.
    Account(AccountId),
    /// A staff member.
    Staff(StaffId),
}

/// Stored as the bare account id or `staff:` and the member's id, the form sessions had before
/// this type, so sessions live on across the upgrade. An account id never holds a `:`.
const STAFF_PREFIX: &str = "staff:";

impl From<Holder> for String {
    fn from(h: Holder) -> String {
        h.key()
    }
}

impl From<String> for Holder {
    fn from(s: String) -> Holder {
        match s.strip_prefix(STAFF_PREFIX) {
            Some(id) => Holder::Staff(StaffId::new(id)),
            None => Holder::Account(AccountId::new(s)),
        }
    }
}

impl Holder {
    /// The stored form, also the key of the cut-off of [`Sessions::end_all`].
    fn key(&self) -> String {
        match self {
            Holder::Account(id) => id.to_string(),
            Holder::Staff(id) => format!("{STAFF_PREFIX}{id}"),
        }
    }
}

/// A logged-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Session id (`sid` in ID tokens); not the cookie value.
    pub sid: SessionId,
    /// Whose session it is.
    #[serde(rename = "account_id")]
    pub holder: Holder,
    /// Level the authentication achieved (R-ACR-1).
    pub level: TrustLevel,
    /// Methods used.
    pub methods: Vec<Method>,
    /// Time of the last real authentication (R-ACR-5).
    pub auth_time: Timestamp,
    /// Login time.
    pub created_at: Timestamp,
    /// Last request.
    pub last_seen: Timestamp,
    /// Login time in milliseconds, to order the session against [`Sessions::end_all`].
    #[serde(default)]
    pub started_ms: Millis,
}

impl Session {
    /// The methods it was authenticated with (`amr`).
    pub fn amr(&self) -> Vec<Method> {
        self.methods.clone()
    }

    /// The account, for a citizen's session; `None` for a staff member's.
    pub fn account_id(&self) -> Option<&AccountId> {
        match &self.holder {
            Holder::Account(id) => Some(id),
            Holder::Staff(_) => None,
        }
    }

    /// The staff member, for a staff session.
    pub fn staff_id(&self) -> Option<&StaffId> {
        match &self.holder {
            Holder::Staff(id) => Some(id),
            Holder::Account(_) => None,
        }
    }
}

/// What a cookie leads to.
#[derive(Debug)]
pub enum Lookup {
    /// No cookie or no such session.
    None,
    /// The session ran out (R-SES-2).
    Expired,
    /// A live session, already touched.
    Active(Session),
}

/// Session operations with the configured timeouts.
#[derive(Clone)]
pub struct Sessions {
    ephemeral: Ephemeral,
    config: SessionConfig,
    // Milliseconds order a session against a cut-off within one second; from the state's clock,
    // so a test that moves time moves both.
    clock: crate::clock::Clock,
}

fn key(cookie: &str) -> String {
    format!("session:{}", sha256_b64(cookie.as_bytes()))
}

fn sid_key(sid: &SessionId) -> String {
    format!("session-sid:{sid}")
}

fn cut_key(holder: &Holder) -> String {
    format!("session-cut:{}", holder.key())
}

impl Sessions {
    /// Sessions over `ephemeral`.
    pub fn new(ephemeral: Ephemeral, config: SessionConfig, clock: crate::clock::Clock) -> Self {
        Self { ephemeral, config, clock }
    }

    fn expires_at(&self, s: &Session) -> Timestamp {
        (s.last_seen + self.config.idle_seconds + EXPIRED_NOTICE_SECONDS)
            .min(s.created_at + self.config.absolute_seconds + EXPIRED_NOTICE_SECONDS)
    }

    fn is_live(&self, s: &Session, now: Timestamp) -> bool {
        now - s.last_seen <= self.config.idle_seconds && now - s.created_at <= self.config.absolute_seconds
    }

    /// Starts a session after a successful authentication; returns the cookie value. A new
    /// id every time, so a session id planted before login is worthless (session fixation).
    pub async fn create(
        &self,
        holder: Holder,
        level: TrustLevel,
        method: Method,
        now: Timestamp,
    ) -> Result<(String, Session), EphemeralError> {
        let cookie = random_token(32);
        let session = Session {
            sid: SessionId::random(),
            holder,
            level,
            methods: vec![method],
            auth_time: now,
            created_at: now,
            last_seen: now,
            started_ms: self.clock.now_ms(),
        };
        self.ephemeral
            .put_json(&key(&cookie), &session, self.expires_at(&session), now)
            .await?;
        // Where the session lives, by its id: refresh tokens bound to it look it up.
        let latest = now + self.config.absolute_seconds + EXPIRED_NOTICE_SECONDS;
        self.ephemeral.put_json(&sid_key(&session.sid), &key(&cookie), latest, now).await?;
        Ok((cookie, session))
    }

    /// Looks a cookie up and records the activity.
    pub async fn load(&self, cookie: Option<&str>, now: Timestamp) -> Result<Lookup, EphemeralError> {
        let Some(cookie) = cookie else { return Ok(Lookup::None) };
        let k = key(cookie);
        let Some(mut session) = self.ephemeral.get_json::<Session>(&k, now).await? else {
            return Ok(Lookup::None);
        };
        if !self.is_live(&session, now) {
            self.ephemeral.delete(&k).await?;
            return Ok(Lookup::Expired);
        }
        if let Some(cut) = self.ephemeral.get_json::<Millis>(&cut_key(&session.holder), now).await?
            && session.started_ms <= cut
        {
            self.ephemeral.delete(&k).await?;
            return Ok(Lookup::None);
        }
        let c = &self.config;
        let level = decayed(
            session.level,
            session.auth_time,
            session.last_seen,
            now,
            [
                (TrustLevel::Eid, c.eid_seconds, c.eid_idle_seconds),
                (TrustLevel::Elster, c.elster_seconds, c.elster_idle_seconds),
            ],
        );
        // Writing on every request would make the store the bottleneck; half a minute's
        // precision is plenty for idle limits of minutes.
        if now - session.last_seen >= 30 || level != session.level {
            session.level = level;
            session.last_seen = now;
            self.ephemeral.put_json(&k, &session, self.expires_at(&session), now).await?;
        }
        Ok(Lookup::Active(session))
    }

    /// Ends every session of an account, on every node (password reset, blocking, deletion):
    /// sessions that started before now are refused from now on.
    pub async fn end_all(&self, holder: &Holder, now: Timestamp) -> Result<(), EphemeralError> {
        let until = now + self.config.absolute_seconds + EXPIRED_NOTICE_SECONDS;
        self.ephemeral.put_json(&cut_key(holder), &self.clock.now_ms(), until, now).await
    }

    /// Ends every session of an account but the one behind `cookie` (a password or email
    /// change, R-SEC-3): the cut-off as in [`Sessions::end_all`], and the kept session restamped
    /// after it, so it goes on.
    pub async fn end_others(&self, cookie: &str, session: &Session, now: Timestamp) -> Result<(), EphemeralError> {
        self.end_all(&session.holder, now).await?;
        let kept = Session {
            started_ms: self.clock.now_ms().next(),
            ..session.clone()
        };
        self.ephemeral.put_json(&key(cookie), &kept, self.expires_at(&kept), now).await
    }

    /// Whether the session `sid` is still live at `now` (not logged out, not idle or too old,
    /// not cut off): a refresh token without `offline_access` lives only as long as its session.
    pub async fn is_alive(&self, sid: &SessionId, now: Timestamp) -> Result<bool, EphemeralError> {
        let Some(at) = self.ephemeral.get_json::<String>(&sid_key(sid), now).await? else {
            return Ok(false);
        };
        let Some(session) = self.ephemeral.get_json::<Session>(&at, now).await? else {
            return Ok(false);
        };
        if session.sid != *sid || !self.is_live(&session, now) {
            return Ok(false);
        }
        let cut = self.ephemeral.get_json::<Millis>(&cut_key(&session.holder), now).await?;
        Ok(cut.is_none_or(|cut| session.started_ms > cut))
    }

    /// Ends the session behind a cookie.
    pub async fn destroy(&self, cookie: &str) -> Result<(), EphemeralError> {
        self.ephemeral.delete(&key(cookie)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> Holder {
        Holder::Account(AccountId::new(id))
    }

    #[test]
    fn a_holder_is_stored_as_before_and_a_staff_member_is_never_an_account() {
        let staff = Holder::Staff(StaffId::new("s1"));
        assert_eq!(serde_json::to_string(&staff).unwrap(), "\"staff:s1\"");
        assert_eq!(serde_json::from_str::<Holder>("\"staff:s1\"").unwrap(), staff);
        assert_eq!(serde_json::from_str::<Holder>("\"abc\"").unwrap(), account("abc"));
    }

    fn sessions() -> Sessions {
        Sessions::new(
            Ephemeral::memory(),
            SessionConfig {
                idle_seconds: 1200,
                absolute_seconds: 43200,
                transaction_seconds: 600,
                eid_seconds: 1800,
                eid_idle_seconds: 300,
                elster_seconds: 7200,
                elster_idle_seconds: 1800,
            },
            crate::clock::Clock::system(),
        )
    }

    #[tokio::test]
    async fn r_ses_2_session_expires_after_twenty_idle_minutes() {
        let s = sessions();
        let (cookie, _) = s.create(account("a"), TrustLevel::Basic, Method::Pwd, Timestamp(0)).await.unwrap();
        assert!(matches!(s.load(Some(&cookie), Timestamp(1000)).await.unwrap(), Lookup::Active(_)));
        // Activity at 1000 moves the idle window.
        assert!(matches!(s.load(Some(&cookie), Timestamp(2100)).await.unwrap(), Lookup::Active(_)));
        assert!(matches!(
            s.load(Some(&cookie), Timestamp(2100 + 1201)).await.unwrap(),
            Lookup::Expired
        ));
        assert!(matches!(s.load(Some(&cookie), Timestamp(2100 + 1202)).await.unwrap(), Lookup::None));
    }

    #[tokio::test]
    async fn r_ses_2_session_has_an_absolute_lifetime() {
        let s = sessions();
        let (cookie, _) = s.create(account("a"), TrustLevel::Basic, Method::Pwd, Timestamp(0)).await.unwrap();
        let mut t = 0;
        while t < 43200 {
            t += 1000;
            if t > 43200 {
                break;
            }
            assert!(
                matches!(s.load(Some(&cookie), Timestamp(t)).await.unwrap(), Lookup::Active(_)),
                "at {t}"
            );
        }
        assert!(matches!(s.load(Some(&cookie), Timestamp(43201)).await.unwrap(), Lookup::Expired));
    }

    #[tokio::test]
    async fn end_all_ends_earlier_sessions_of_the_account_only() {
        let s = sessions();
        let (a1, _) = s.create(account("a"), TrustLevel::Basic, Method::Pwd, Timestamp(0)).await.unwrap();
        let (b, _) = s.create(account("b"), TrustLevel::Basic, Method::Pwd, Timestamp(0)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        s.end_all(&account("a"), Timestamp(1)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let (a2, _) = s.create(account("a"), TrustLevel::Basic, Method::Pwd, Timestamp(1)).await.unwrap();
        assert!(matches!(s.load(Some(&a1), Timestamp(2)).await.unwrap(), Lookup::None));
        assert!(matches!(s.load(Some(&b), Timestamp(2)).await.unwrap(), Lookup::Active(_)));
        assert!(matches!(s.load(Some(&a2), Timestamp(2)).await.unwrap(), Lookup::Active(_)));
    }

    #[tokio::test]
    async fn r_acr_6_an_eid_session_decays_to_plus_and_lives_on() {
        let s = sessions();
        let (cookie, _) = s.create(account("a"), TrustLevel::Eid, Method::Eid, Timestamp(0)).await.unwrap();
        let Lookup::Active(at_200) = s.load(Some(&cookie), Timestamp(200)).await.unwrap() else {
            panic!()
        };
        assert_eq!(at_200.level, TrustLevel::Eid);
        // 301 s without activity: still a session, but only Plus.
        let Lookup::Active(later) = s.load(Some(&cookie), Timestamp(200 + 301)).await.unwrap() else {
            panic!()
        };
        assert_eq!(later.level, TrustLevel::Plus);
        assert_eq!(later.auth_time, Timestamp(0), "auth_time stays the time of the real authentication");
        let Lookup::Active(again) = s.load(Some(&cookie), Timestamp(520)).await.unwrap() else {
            panic!()
        };
        assert_eq!(again.level, TrustLevel::Plus, "a decayed level does not come back");
    }

    #[tokio::test]
    async fn r_ses_3_logout_destroys_the_session() {
        let s = sessions();
        let (cookie, _) = s.create(account("a"), TrustLevel::Basic, Method::Pwd, Timestamp(0)).await.unwrap();
        s.destroy(&cookie).await.unwrap();
        assert!(matches!(s.load(Some(&cookie), Timestamp(1)).await.unwrap(), Lookup::None));
    }
}
