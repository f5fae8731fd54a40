//! Mail to citizens: rendered from templates (plain text and HTML, German and English), stored
//! in a queue in the database, and delivered by a background worker — by default as `.eml`
//! files in the outbox directory, in production over SMTP. A mail server that is down delays
//! mail; it never loses the action that sent it (the mail stays queued and is retried).

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use tokio::sync::Notify;

use crate::clock::{Clock, Timestamp};
use crate::config::{Config, SmtpTls};
use crate::protocol::authorize::Locale;
use crate::secret::random_token;
use crate::store::{Store, StoreError};
use crate::templates::Templates;

pub use crate::model::mail::QueuedMail;

/// Queued mails older than this are dropped: every link they carry has expired.
const MAX_AGE_SECONDS: i64 = 72 * 3600;

/// The mails the product sends; each has `mail/<name>.txt`, `mail/<name>.html` and a subject
/// `mail_<name>_subject` in the catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// Activation link of a new registration (R-REG-4).
    Activation,
    /// Someone tried to register with an address that already has an account.
    AlreadyRegistered,
    /// Password reset link (R-SES-4).
    PasswordReset,
    /// The password was changed or reset (R-SES-6 block link).
    PasswordChanged,
    /// Confirmation link to the new address (R-PRO-2).
    EmailChangeConfirm,
    /// Notice to the old address (R-PRO-2, R-SES-6 block link).
    EmailChangeNotice,
    /// Logins were locked after repeated failures.
    LoginLocked,
    /// The account was blocked through a block link.
    AccountBlocked,
    /// The account was deleted (R-PRO-3).
    AccountDeleted,
    /// An eID card was linked to the account (R-SES-6 block link).
    EidLinked,
    /// The Fachliche Leitstelle decided on a subscription (R-ORG-7), to the administrators.
    SubscriptionDecided,
    /// An organisation created an account for the person: set a password (R-ORG-4).
    OrgInvite,
    /// An organisation deleted the person's account (R-ORG-5).
    OrgUserDeleted,
    /// The organisation was deleted with every account in it (R-ORG-11), to its administrators.
    OrgDeleted,
}

impl MailKind {
    /// Every kind (template tests).
    pub const ALL: [MailKind; 14] = [
        MailKind::Activation,
        MailKind::AlreadyRegistered,
        MailKind::PasswordReset,
        MailKind::PasswordChanged,
        MailKind::EmailChangeConfirm,
        MailKind::EmailChangeNotice,
        MailKind::LoginLocked,
        MailKind::AccountBlocked,
        MailKind::AccountDeleted,
        MailKind::EidLinked,
        MailKind::SubscriptionDecided,
        MailKind::OrgInvite,
        MailKind::OrgUserDeleted,
        MailKind::OrgDeleted,
    ];

    /// Template base name.
    pub fn name(self) -> &'static str {
        match self {
            MailKind::Activation => "activation",
            MailKind::AlreadyRegistered => "already_registered",
            MailKind::PasswordReset => "password_reset",
            MailKind::PasswordChanged => "password_changed",
            MailKind::EmailChangeConfirm => "email_change_confirm",
            MailKind::EmailChangeNotice => "email_change_notice",
            MailKind::LoginLocked => "login_locked",
            MailKind::AccountBlocked => "account_blocked",
            MailKind::AccountDeleted => "account_deleted",
            MailKind::EidLinked => "eid_linked",
            MailKind::SubscriptionDecided => "subscription_decided",
            MailKind::OrgInvite => "org_invite",
            MailKind::OrgUserDeleted => "org_user_deleted",
            MailKind::OrgDeleted => "org_deleted",
        }
    }
}

/// Why a mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The address or the rendered message is unusable.
    #[error("cannot build mail: {0}")]
    Build(String),
    /// The queue could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

struct Inner {
    transport: Transport,
    from: Mailbox,
    store: Store,
    pages: Templates,
    wake: Notify,
}

/// Queues and delivers mail; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

fn build_transport(config: &Config) -> Result<Transport, String> {
    let mail = &config.mail;
    let Some(host) = mail.smtp_host.as_deref().filter(|h| !h.is_empty()) else {
        std::fs::create_dir_all(&config.outbox_dir).map_err(|e| format!("outbox {}: {e}", config.outbox_dir.display()))?;
        return Ok(Transport::File(AsyncFileTransport::new(&config.outbox_dir)));
    };
    let builder = match mail.smtp_tls {
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| e.to_string())?,
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?,
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
    };
    let mut builder = builder.timeout(Some(Duration::from_secs(20)));
    if let Some(port) = mail.smtp_port {
        builder = builder.port(port);
    }
    if let (Some(user), Some(password)) = (&mail.smtp_username, &mail.smtp_password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
    }
    Ok(Transport::Smtp(builder.build()))
}

fn eight_bit(content_type: ContentType, text: String) -> SinglePart {
    // 8bit (RFC 6152) keeps every link on one line, whole and readable, in the .eml files and
    // for any mail client; lettre would choose quoted-printable for lines over 76 characters.
    // 8bit allows 998 octets per line; a longer line (never in our templates) falls back.
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let body = if crlf.split("\r\n").all(|l| l.len() <= 998) && !crlf.contains('\0') {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text)
    };
    SinglePart::builder().header(content_type).body(body)
}

/// Seconds until the next attempt after `attempts` failures: 1 min, doubling, at most 1 h.
pub fn retry_delay(attempts: i64) -> i64 {
    (60i64 << attempts.clamp(0, 6)).min(3600)
}

impl Mailer {
    /// The mailer the configuration asks for: SMTP when `mail.smtp_host` is set, else files.
    pub fn new(config: &Config, store: Store, pages: Templates) -> Result<Mailer, String> {
        let from: Mailbox = config.mail.from.parse().map_err(|e| format!("mail.from: {e}"))?;
        Ok(Mailer {
            inner: Arc::new(Inner {
                transport: build_transport(config)?,
                from,
                store,
                pages,
                wake: Notify::new(),
            }),
        })
    }

    /// Renders `kind` for `to` in `locale` with `ctx` and queues it; delivery follows in the
    /// background, so a response never waits for (or reveals) the mail server.
    pub async fn send<C: Serialize>(&self, kind: MailKind, to: &str, locale: Locale, ctx: &C, now: Timestamp) -> Result<(), MailError> {
        let pages = &self.inner.pages;
        let name = kind.name();
        let text = pages
            .render(&format!("mail/{name}.txt"), locale, false, ctx)
            .map_err(MailError::Build)?;
        let html = pages
            .render(&format!("mail/{name}.html"), locale, false, ctx)
            .map_err(MailError::Build)?;
        let to_address: Address = to
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
        let message = Message::builder()
            .from(self.inner.from.clone())
            .to(Mailbox::new(None, to_address))
            .subject(pages.text(locale, &format!("mail_{name}_subject")))
            .multipart(
                MultiPart::alternative()
                    .singlepart(eight_bit(ContentType::TEXT_PLAIN, text))
                    .singlepart(eight_bit(ContentType::TEXT_HTML, html)),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        let queued = QueuedMail {
            id: random_token(12),
            sender: self.inner.from.email.to_string(),
            recipient: to.to_string(),
            message: String::from_utf8_lossy(&message.formatted()).into_owned(),
            kind: name.to_string(),
            attempts: 0,
            next_attempt_at: now,
        };
        self.inner.store.queue_mail(&queued, now).await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    async fn deliver(&self, m: &QueuedMail) -> Result<(), String> {
        let envelope = lettre::address::Envelope::new(
            Some(m.sender.parse().map_err(|e: lettre::address::AddressError| e.to_string())?),
            vec![m.recipient.parse().map_err(|e: lettre::address::AddressError| e.to_string())?],
        )
        .map_err(|e| e.to_string())?;
        match &self.inner.transport {
            Transport::File(t) => t
                .send_raw(&envelope, m.message.as_bytes())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Smtp(t) => t
                .send_raw(&envelope, m.message.as_bytes())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    /// One pass over the due mails; how many were delivered. Each mail is claimed first, so
    /// several nodes never deliver the same mail twice.
    pub async fn deliver_due(&self, now: Timestamp) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let mut delivered = 0;
        for m in store.due_mail(now, 50).await? {
            if !store.claim_mail(&m, now + retry_delay(m.attempts)).await? {
                continue;
            }
            match self.deliver(&m).await {
                Ok(()) => {
                    store.mail_delivered(&m.id).await?;
                    tracing::info!(mail_id = %m.id, kind = %m.kind, attempts = m.attempts + 1, "mail delivered");
                    delivered += 1;
                }
                Err(e) => {
                    // Servers quote the address in their refusals; logs keep no personal data.
                    let e = e.replace(&m.recipient, "[recipient]");
                    tracing::warn!(mail_id = %m.id, kind = %m.kind, attempts = m.attempts + 1, error = %e, "mail delivery failed; will retry");
                    store.mail_failed(&m.id, &e).await?;
                }
            }
        }
        Ok(delivered)
    }

    /// Delivers queued mail as it arrives and retries failures with growing delays, on the
    /// application's `clock` (a test that moves it moves the retries).
    pub fn spawn_worker(&self, clock: Clock) {
        let mailer = self.clone();
        tokio::spawn(async move {
            loop {
                let now = clock.now();
                if let Err(e) = mailer.deliver_due(now).await {
                    tracing::error!(error = %e, "mail queue unavailable");
                }
                match mailer.inner.store.purge_mail(now - MAX_AGE_SECONDS).await {
                    Ok(n) if n > 0 => tracing::error!(mails = n, "dropped undeliverable mail after 72 hours"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "mail queue unavailable"),
                }
                let _ = tokio::time::timeout(Duration::from_secs(15), mailer.inner.wake.notified()).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_8bit_with_whole_lines() {
        let link = format!("https://idp.example/password/reset?token={}", "a".repeat(43));
        let part = eight_bit(ContentType::TEXT_PLAIN, format!("Grüße\n\n{link}\n"));
        let text = String::from_utf8(part.formatted()).unwrap();
        assert!(text.contains("Content-Transfer-Encoding: 8bit"));
        assert!(text.contains(&format!("Grüße\r\n\r\n{link}\r\n")));
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_delay(0), 60);
        assert_eq!(retry_delay(1), 120);
        assert_eq!(retry_delay(5), 1920);
        assert_eq!(retry_delay(6), 3600);
        assert_eq!(retry_delay(40), 3600);
    }
}
