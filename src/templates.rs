//! The templates (tera, compiled into the binary) and the German and English message catalogs:
//! one engine for the pages people see and the mails they get, so it sits below both.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tera::Tera;

use crate::protocol::authorize::Locale;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("mail/layout.html", include_str!("../templates/mail/layout.html")),
    ("pages/notice.html", include_str!("../templates/pages/notice.html")),
    ("pages/register.html", include_str!("../templates/pages/register.html")),
    (
        "pages/register_summary.html",
        include_str!("../templates/pages/register_summary.html"),
    ),
    ("pages/confirm_link.html", include_str!("../templates/pages/confirm_link.html")),
    ("pages/activate.html", include_str!("../templates/pages/activate.html")),
    ("pages/forgot.html", include_str!("../templates/pages/forgot.html")),
    ("pages/reset.html", include_str!("../templates/pages/reset.html")),
    ("pages/profile.html", include_str!("../templates/pages/profile.html")),
    (
        "pages/password_change.html",
        include_str!("../templates/pages/password_change.html"),
    ),
    ("pages/email_change.html", include_str!("../templates/pages/email_change.html")),
    ("pages/email_confirm.html", include_str!("../templates/pages/email_confirm.html")),
    ("pages/delete.html", include_str!("../templates/pages/delete.html")),
    ("pages/plus_request.html", include_str!("../templates/pages/plus_request.html")),
    ("pages/staff_login.html", include_str!("../templates/pages/staff_login.html")),
    ("pages/staff_requests.html", include_str!("../templates/pages/staff_requests.html")),
    ("pages/staff_request.html", include_str!("../templates/pages/staff_request.html")),
    ("pages/error.html", include_str!("../templates/pages/error.html")),
    ("pages/login.html", include_str!("../templates/pages/login.html")),
    ("pages/consent.html", include_str!("../templates/pages/consent.html")),
    ("pages/lands.html", include_str!("../templates/pages/lands.html")),
    ("pages/land_refused.html", include_str!("../templates/pages/land_refused.html")),
    ("pages/not_admitted.html", include_str!("../templates/pages/not_admitted.html")),
    ("pages/services.html", include_str!("../templates/pages/services.html")),
    ("pages/form_post.html", include_str!("../templates/pages/form_post.html")),
    ("pages/logout.html", include_str!("../templates/pages/logout.html")),
    ("pages/logged_out.html", include_str!("../templates/pages/logged_out.html")),
    ("pages/home.html", include_str!("../templates/pages/home.html")),
    ("pages/accessibility.html", include_str!("../templates/pages/accessibility.html")),
    ("pages/demo.html", include_str!("../templates/pages/demo.html")),
    ("mail/activation.txt", include_str!("../templates/mail/activation.txt")),
    ("mail/activation.html", include_str!("../templates/mail/activation.html")),
    (
        "mail/already_registered.txt",
        include_str!("../templates/mail/already_registered.txt"),
    ),
    (
        "mail/already_registered.html",
        include_str!("../templates/mail/already_registered.html"),
    ),
    ("mail/password_reset.txt", include_str!("../templates/mail/password_reset.txt")),
    ("mail/password_reset.html", include_str!("../templates/mail/password_reset.html")),
    ("mail/password_changed.txt", include_str!("../templates/mail/password_changed.txt")),
    (
        "mail/password_changed.html",
        include_str!("../templates/mail/password_changed.html"),
    ),
    (
        "mail/email_change_confirm.txt",
        include_str!("../templates/mail/email_change_confirm.txt"),
    ),
    (
        "mail/email_change_confirm.html",
        include_str!("../templates/mail/email_change_confirm.html"),
    ),
    (
        "mail/email_change_notice.txt",
        include_str!("../templates/mail/email_change_notice.txt"),
    ),
    (
        "mail/email_change_notice.html",
        include_str!("../templates/mail/email_change_notice.html"),
    ),
    ("mail/login_locked.txt", include_str!("../templates/mail/login_locked.txt")),
    ("mail/login_locked.html", include_str!("../templates/mail/login_locked.html")),
    ("mail/account_blocked.txt", include_str!("../templates/mail/account_blocked.txt")),
    ("mail/account_blocked.html", include_str!("../templates/mail/account_blocked.html")),
    ("mail/account_deleted.txt", include_str!("../templates/mail/account_deleted.txt")),
    ("mail/account_deleted.html", include_str!("../templates/mail/account_deleted.html")),
    ("mail/eid_linked.txt", include_str!("../templates/mail/eid_linked.txt")),
    ("mail/eid_linked.html", include_str!("../templates/mail/eid_linked.html")),
    (
        "mail/subscription_decided.txt",
        include_str!("../templates/mail/subscription_decided.txt"),
    ),
    (
        "mail/subscription_decided.html",
        include_str!("../templates/mail/subscription_decided.html"),
    ),
    ("mail/org_invite.txt", include_str!("../templates/mail/org_invite.txt")),
    ("mail/org_invite.html", include_str!("../templates/mail/org_invite.html")),
    ("mail/org_user_deleted.txt", include_str!("../templates/mail/org_user_deleted.txt")),
    (
        "mail/org_user_deleted.html",
        include_str!("../templates/mail/org_user_deleted.html"),
    ),
    ("pages/org_register.html", include_str!("../templates/pages/org_register.html")),
    (
        "pages/org_register_admin.html",
        include_str!("../templates/pages/org_register_admin.html"),
    ),
    (
        "pages/org_register_services.html",
        include_str!("../templates/pages/org_register_services.html"),
    ),
    (
        "pages/org_register_summary.html",
        include_str!("../templates/pages/org_register_summary.html"),
    ),
    ("pages/org_admin.html", include_str!("../templates/pages/org_admin.html")),
    ("pages/org_invite.html", include_str!("../templates/pages/org_invite.html")),
    (
        "pages/org_user_services.html",
        include_str!("../templates/pages/org_user_services.html"),
    ),
    ("pages/org_delete.html", include_str!("../templates/pages/org_delete.html")),
    ("pages/org_group.html", include_str!("../templates/pages/org_group.html")),
    ("pages/org_user.html", include_str!("../templates/pages/org_user.html")),
    ("mail/org_deleted.txt", include_str!("../templates/mail/org_deleted.txt")),
    ("mail/org_deleted.html", include_str!("../templates/mail/org_deleted.html")),
    (
        "pages/staff_subscriptions.html",
        include_str!("../templates/pages/staff_subscriptions.html"),
    ),
    (
        "pages/staff_subscription.html",
        include_str!("../templates/pages/staff_subscription.html"),
    ),
];

const CATALOGS: &[(Locale, &str)] = &[
    (Locale::De, include_str!("../templates/i18n/de.toml")),
    (Locale::En, include_str!("../templates/i18n/en.toml")),
];

/// The one style sheet.
pub const STYLE: &str = include_str!("../templates/static/style.css");

/// Templates and message catalogs, loaded once.
#[derive(Clone)]
pub struct Templates {
    tera: Arc<Tera>,
    catalogs: Arc<HashMap<Locale, Value>>,
}

impl Templates {
    /// Compiles the templates and reads the catalogs; fails on any syntax error.
    pub fn load() -> Result<Templates, String> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied()).map_err(|e| format!("{e:?}"))?;
        tera.autoescape_on(vec![".html"]);
        let mut catalogs = HashMap::new();
        for (locale, text) in CATALOGS {
            let table: toml::Table = toml::from_str(text).map_err(|e| format!("catalog {}: {e}", locale.tag()))?;
            catalogs.insert(*locale, serde_json::to_value(table).map_err(|e| e.to_string())?);
        }
        Ok(Templates {
            tera: Arc::new(tera),
            catalogs: Arc::new(catalogs),
        })
    }

    /// A message from the catalog.
    pub fn text(&self, locale: Locale, key: &str) -> String {
        self.catalogs
            .get(&locale)
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string()
    }

    /// Renders a template with `ctx` plus the catalog (`t`), language and login state.
    pub fn render<C: Serialize>(&self, template: &str, locale: Locale, logged_in: bool, ctx: &C) -> Result<String, String> {
        let mut value = serde_json::to_value(ctx).map_err(|e| e.to_string())?;
        let Some(obj) = value.as_object_mut() else {
            return Err("page context must be an object".into());
        };
        obj.insert("t".into(), self.catalogs.get(&locale).cloned().unwrap_or(Value::Null));
        obj.insert("lang".into(), locale.tag().into());
        obj.insert("logged_in".into(), logged_in.into());
        let context = tera::Context::from_value(value).map_err(|e| e.to_string())?;
        self.tera.render(template, &context).map_err(|e| format!("{e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_template_renders_in_both_languages() {
        let pages = Templates::load().unwrap();
        let ctx = stringify!({
            "message": "m", "detail": "d", "request_id": "r", "client_name": "Dienst", "expired": true, "error": "e",
            "csrf": "c", "txn": "t", "email": "a@b.de", "digest": "d", "items": [{"key": "given_name", "label": "Vorname", "value": "Erika", "required": true}], "land": "Land B", "choose": true,
            "lands": [{"id": "b", "name": "Land B", "logo": "LB", "issuer": "https://b", "available": true}], "reason": "level", "action": "https://rp/cb",
            "fields": [["code", "x"]], "nonce": "n", "client_id": "c", "post_logout_redirect_uri": "https://rp/",
            "state": "s", "demo": true, "claims": [["sub", "x"]], "userinfo": [["sub", "x"]], "logout_url": "/logout?x=1",
            "errors": {"email": "bad", "consent": "c", "confirm": "c", "address": "a"}, "error_list": [["email", "bad"]],
            "form": {"title": "Dr.", "given_name": "Erika", "family_name": "M", "birthdate": "1964-08-12", "street": "S",
                     "house_number": "1", "postal_code": "5", "city": "K", "country": "DE", "phone_number": "1", "delivery_consent": true,
                     "email": "a@b.de", "admin": true, "name": "Firma", "trade_register": "HRB 1", "po_box": "1234"},
            "password_kept": true, "administers": true, "given_name": "Erika", "family_name": "M", "title": "T", "token": "tok", "button": "b",
            "link": "https://idp/x?token=1", "block_link": "https://idp/block?token=1", "login_url": "https://idp/login",
            "forgot_url": "https://idp/password/forgot", "new_email": "n@b.de", "current_email": "a@b.de", "email_repeat": "a@b.de",
            "plus": true, "delivery_consent_at": "2026-01-01 10:00 UTC", "notice": "n", "next": "/profile",
            "consents": [{"client_id": "c", "name": "Dienst", "items": ["Vorname"], "granted_at": "2026-01-01 10:00 UTC"}],
            "link_href": "/login", "link_text": "Anmelden",
            "service": "Dienst", "back": {"href": "https://rp/cb?error=access_denied"}, "q": "gewerbe", "searched": true,
            "services": [{"id": "c", "name": "Dienst", "description": "d", "level": "Basis", "admits": "alle", "approval": true, "cost_note": "0 €", "requires_approval": true, "checked": true,
                          "n": 0, "client_id": "c", "granted": true, "roles": [{"n": 0, "name": "r", "granted": true}]}],
            "org": {"name": "Firma", "trade_register": "HRB 1", "po_box": "1234", "address": "Weg 1, 12345 Ort"},
            "admin": {"name": "Ada Admin", "email": "a@b.de", "phone_number": "1", "birthdate": "1980-01-01"},
            "users": [{"id": "u", "name": "Ada Admin", "email": "a@b.de", "admin": true, "activated": false}],
            "subscriptions": [{"client_id": "c", "name": "Dienst", "released": false}],
            "offered": [{"client_id": "d", "name": "Anderer Dienst", "requires_approval": true}],
            "user": {"id": "u", "name": "Ada Admin"}, "org_name": "Firma",
            "groups": [{"id": "g", "name": "Gruppe", "description": "d"}], "group": {"id": "g", "name": "Gruppe", "description": "d"},
            "members": [{"n": 0, "id": "u", "name": "Ada Admin", "member": true}],
            "organisations_only": true,
            "pending": [{"org_id": "o", "org_name": "Firma", "client_id": "c", "service": "Dienst", "requested_at": "2026-12-01"}],
            "org_id": "o", "client_id": "c", "org_name": "Firma", "trade_register": "HRB 1", "org_address": "Weg 1, 12345 Ort",
            "service_description": "d", "requested_at": "2026-12-01", "approved": true,
            "eid": ["eid", "Online-Ausweis"], "eid_required": true, "eid_linked": true, "eid_login": true,
            "elster": ["elster", "ELSTER"], "elster_required": true, "from_elster": false, "elster_linked_at": "2026-12-01 10:00 UTC",
            "plus_request_at": "2026-01-01 10:00 UTC", "username": "clerk", "staff_name": "Clara", "account_id": "a1", "birthdate": "1964-08-12",
            "requests": [{"account_id": "a1", "birthdate": "1964-08-12", "name": "Erika M", "birthdate": "1964-08-12"}], "address": "Heidestraße 17, 51147 Köln, DE",
            "identity": {"name": "Erika Mustermann", "birthdate": "1964-08-12", "address": "Heidestraße 17, 51147 Köln"}
        })
        .to_string();
        let ctx: Value = serde_json::from_str(&ctx).unwrap();
        for (name, _) in TEMPLATES
            .iter()
            .filter(|(n, _)| !matches!(*n, "layout.html" | "macros.html" | "mail/layout.html"))
        {
            for locale in [Locale::De, Locale::En] {
                let html = pages.render(name, locale, true, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
                if !name.ends_with(".txt") {
                    assert!(html.contains(&format!("lang=\"{}\"", locale.tag())), "{name}");
                }
                assert!(!html.contains("{{"), "{name}: unrendered text");
            }
        }
    }

    #[test]
    fn every_mail_kind_has_text_html_and_subject_in_both_languages() {
        let pages = Templates::load().unwrap();
        for kind in crate::mail::MailKind::ALL {
            for locale in [Locale::De, Locale::En] {
                for ext in ["txt", "html"] {
                    let name = format!("mail/{}.{ext}", kind.name());
                    pages
                        .render(
                            &name,
                            locale,
                            false,
                            &json!({"given_name": "E", "link": "l", "block_link": "b", "login_url": "u", "forgot_url": "f", "new_email": "n", "service": "s", "org_name": "o", "approved": true}),
                        )
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                let subject = format!("mail_{}_subject", kind.name());
                assert_ne!(pages.text(locale, &subject), subject);
            }
        }
    }

    #[test]
    fn catalogs_have_the_same_keys() {
        let pages = Templates::load().unwrap();
        let keys = |l: Locale| {
            pages.catalogs[&l]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(keys(Locale::De), keys(Locale::En));
    }

    #[test]
    fn autoescape_is_on() {
        let pages = Templates::load().unwrap();
        let html = pages
            .render("pages/error.html", Locale::De, false, &json!({"message": "<script>x</script>"}))
            .unwrap();
        assert!(html.contains("&lt;script&gt;"));
    }
}
