//! The authorization decision (OIDC Core §3.1.2.2–3.1.2.4): given a checked request, the
//! browser's session and stored consent, decide whether to ask for login, ask for consent,
//! refuse, or issue a code. Pure: no I/O, `now` passed in.

use crate::accounts::{Account, AccountKind};
use crate::clients::{Admits, Client};
use crate::clock::Timestamp;
use crate::protocol::authorize::AuthorizeRequest;
use crate::protocol::scope::Scopes;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::sessions::Session;
use crate::trust::{Acr, Method, TrustLevel, achieved_level};

/// Why the user must (re-)authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReason {
    /// No session.
    NoSession,
    /// `prompt=login`.
    Forced,
    /// The authentication is older than `max_age`.
    TooOld,
    /// `id_token_hint` names another user.
    OtherUser,
    /// The session's level is below what is needed, and a new login can reach it (step-up).
    StepUp,
    /// The session's account is of a kind the service does not admit; another account may be.
    OtherKind,
}

/// Why the person cannot use the service with the account they just logged in with: a page
/// tells them, and the client hears `access_denied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAdmitted {
    /// The service does not admit this kind of account (R-SVC-1).
    AccountKind(Admits),
    /// The organisation does not let this user use the service (R-ORG-8, -10).
    NotGranted,
}

impl NotAdmitted {
    /// What the client hears.
    pub fn error(self) -> OAuthError {
        match self {
            NotAdmitted::AccountKind(admits) => OAuthError::new(
                OAuthErrorCode::AccessDenied,
                match admits {
                    Admits::Citizen => "this service is for citizens only",
                    Admits::Organisation => "this service is for organisations only",
                    Admits::Any => "this service does not admit this account",
                },
            ),
            NotAdmitted::NotGranted => OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "the user's organisation does not grant them this service",
            ),
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Show the login page.
    Login(LoginReason),
    /// Show the consent page.
    Consent,
    /// Issue a code with this `acr`.
    Issue {
        /// The `acr` to report.
        acr: Acr,
    },
    /// Send an error back to the client.
    Deny(OAuthError),
    /// Tell the person why not, then send `access_denied` back to the client.
    Refuse(NotAdmitted),
}

/// The state of the browser and the transaction when deciding.
pub struct Context<'a> {
    /// The session, with its account.
    pub session: Option<(&'a Session, &'a Account)>,
    /// A login completed within this authorization transaction.
    pub fresh_login: bool,
    /// Consent given within this transaction.
    pub fresh_consent: bool,
    /// What the account consented to earlier for this client.
    pub stored_consent: Option<&'a Scopes>,
    /// What this request needs consent for.
    pub consent_needed: &'a Scopes,
    /// Whether `id_token_hint` names the session's user (`None` without a hint).
    pub hint_matches: Option<bool>,
    /// For an organisation's user: whether the organisation lets them use this service
    /// (R-ORG-8); unused for citizens.
    pub granted: bool,
    /// Whether the account can log in through its upstream now — a citizen with the eID
    /// (linked, eID login on, eID service configured), an organisation's user with ELSTER (a
    /// certificate linked, ELSTER configured): then a step-up to that level is reachable.
    pub upstream_login: bool,
}

/// The highest level a login of this account can reach now: with the eID when eID login is
/// on for it (R-EID-3), with ELSTER for an organisation's user with a certificate (R-ELS-4),
/// else with the password.
fn reachable(account: &Account, upstream_login: bool) -> TrustLevel {
    match account.kind {
        AccountKind::Citizen if upstream_login && account.level >= TrustLevel::Plus => Method::Eid.ceiling(),
        AccountKind::Organisation if upstream_login => Method::Elster.ceiling(),
        _ => achieved_level(account.level, Method::Pwd),
    }
}

fn unmet(level: TrustLevel, why: &str) -> Decision {
    Decision::Deny(OAuthError::new(
        OAuthErrorCode::UnmetAuthenticationRequirements,
        format!("{why} requires trust level {} which this account cannot reach", level.acr()),
    ))
}

/// Decides the next step for `request` by `client` at `now`.
pub fn decide(request: &AuthorizeRequest, client: &Client, ctx: &Context<'_>, now: Timestamp) -> Decision {
    let decision = decide_interactive(request, client, ctx, now);
    if request.prompt.none {
        return match decision {
            Decision::Login(_) => Decision::Deny(OAuthError::new(OAuthErrorCode::LoginRequired, "the user must log in")),
            Decision::Consent => Decision::Deny(OAuthError::new(OAuthErrorCode::ConsentRequired, "the user must consent")),
            // No page may be shown.
            Decision::Refuse(why) => Decision::Deny(why.error()),
            other => other,
        };
    }
    decision
}

fn decide_interactive(request: &AuthorizeRequest, client: &Client, ctx: &Context<'_>, now: Timestamp) -> Decision {
    let Some((session, account)) = ctx.session else {
        return Decision::Login(LoginReason::NoSession);
    };
    if !ctx.fresh_login {
        if request.prompt.login {
            return Decision::Login(LoginReason::Forced);
        }
        // max_age=0 means "authenticate now" even within the login's second.
        if request.max_age.is_some_and(|max| max == 0 || now - session.auth_time > max) {
            return Decision::Login(LoginReason::TooOld);
        }
        if ctx.hint_matches == Some(false) {
            return Decision::Login(LoginReason::OtherUser);
        }
    } else if ctx.hint_matches == Some(false) {
        return Decision::Deny(OAuthError::new(
            OAuthErrorCode::LoginRequired,
            "the logged-in user is not the one named by id_token_hint",
        ));
    }

    // R-SVC-1: the service admits this kind of account, or the person logs in with another.
    if !client.admits.admits(account.kind) {
        return if ctx.fresh_login {
            Decision::Refuse(NotAdmitted::AccountKind(client.admits))
        } else {
            Decision::Login(LoginReason::OtherKind)
        };
    }
    // R-ORG-8: an organisation's user uses only what the organisation grants them.
    if account.kind == AccountKind::Organisation && !ctx.granted {
        return Decision::Refuse(NotAdmitted::NotGranted);
    }
    // R-ACR-4: the service's minimum is never waived.
    if session.level < client.min_level {
        return if reachable(account, ctx.upstream_login) >= client.min_level && !ctx.fresh_login {
            Decision::Login(LoginReason::StepUp)
        } else {
            unmet(client.min_level, "this service")
        };
    }
    // R-ACR-2/3: the request's level; essential is enforced, voluntary is best effort.
    if let Some(required) = request.acr.required_level()
        && session.level < required
    {
        if reachable(account, ctx.upstream_login) >= required && !ctx.fresh_login {
            return Decision::Login(LoginReason::StepUp);
        }
        if request.acr.essential {
            return unmet(required, "the request");
        }
    } else if request.acr.essential && request.acr.required_level().is_none() {
        return Decision::Deny(OAuthError::new(
            OAuthErrorCode::UnmetAuthenticationRequirements,
            "none of the requested acr values is known",
        ));
    }

    let consented = ctx.fresh_consent || (!request.prompt.consent && ctx.stored_consent.is_some_and(|s| ctx.consent_needed.is_subset(s)));
    if !consented {
        return Decision::Consent;
    }
    Decision::Issue {
        acr: request.acr.reported_acr(session.level),
    }
}

/// The decision for a person logged in through another Land within this transaction
/// (R-FED-1, -3): no session, no stored consent — the level the Land asserted must meet the
/// service's minimum and an essential request, and the user consents to every transfer.
pub fn decide_federated(request: &AuthorizeRequest, client: &Client, level: TrustLevel, fresh_consent: bool) -> Decision {
    // A person logged in through another Land is a citizen (R-FED-2).
    if !client.admits.admits(AccountKind::Citizen) {
        return Decision::Refuse(NotAdmitted::AccountKind(client.admits));
    }
    if level < client.min_level {
        return unmet(client.min_level, "this service");
    }
    if request.acr.essential {
        match request.acr.required_level() {
            Some(required) if level < required => return unmet(required, "the request"),
            Some(_) => {}
            None => {
                return Decision::Deny(OAuthError::new(
                    OAuthErrorCode::UnmetAuthenticationRequirements,
                    "none of the requested acr values is known",
                ));
            }
        }
    }
    if !fresh_consent {
        return Decision::Consent;
    }
    Decision::Issue {
        acr: request.acr.reported_acr(level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountKind;
    use crate::clients::{AuthMethod, SubjectType};
    use crate::protocol::authorize::{Locale, Prompt, ResponseMode};
    use crate::protocol::claims::ClaimsRequest;
    use crate::secret::Secret;
    use crate::sessions::Holder;
    use crate::trust::AcrRequest;

    fn account(level: TrustLevel) -> Account {
        Account {
            id: "a".into(),
            email: "e@x.de".into(),
            password_hash: Secret::new(String::new()),
            kind: AccountKind::Citizen,
            level,
            given_name: "E".into(),
            family_name: "M".into(),
            birthdate: None,
            address: None,
            phone_number: None,
            email_verified: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            title: None,
            blocked_at: None,
            delivery_consent_at: None,
        }
    }

    fn session(level: TrustLevel, auth_time: Timestamp) -> Session {
        Session {
            sid: "s".into(),
            holder: Holder::Account("a".into()),
            level,
            methods: vec![Method::Pwd],
            auth_time,
            created_at: auth_time,
            last_seen: auth_time,
            started_ms: crate::clock::Millis(0),
        }
    }

    fn client(min: TrustLevel) -> Client {
        Client {
            id: "c".into(),
            name: "C".into(),
            secret_hash: None,
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![],
            scopes: Scopes::parse("openid").unwrap(),
            min_level: min,
            jwks_uri: None,
            subject_type: SubjectType::Pairwise,
            subject_key_version: 1,
            created_at: Timestamp(0),
            backchannel_logout_uri: None,
            allow_interop: false,
            federation_partner: false,
            admits: crate::clients::Admits::Citizen,
            requires_approval: false,
            roles: vec![],
            description: None,
            cost_note: None,
        }
    }

    fn request() -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: "c".into(),
            redirect_uri: "https://rp/cb".into(),
            response_mode: ResponseMode::Query,
            scope: Scopes::parse("openid").unwrap(),
            state: None,
            nonce: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            id_token_hint: None,
            locale: Locale::De,
            acr: AcrRequest::default(),
            claims: ClaimsRequest::default(),
            code_challenge: None,
        }
    }

    fn run(req: &AuthorizeRequest, cl: &Client, s: Option<(&Session, &Account)>, consent: bool, now: Timestamp) -> Decision {
        run_upstream(req, cl, s, consent, false, now)
    }

    fn run_upstream(
        req: &AuthorizeRequest,
        cl: &Client,
        s: Option<(&Session, &Account)>,
        consent: bool,
        upstream_login: bool,
        now: Timestamp,
    ) -> Decision {
        let needed = req.scope.clone();
        let stored = consent.then(|| needed.clone());
        decide(
            req,
            cl,
            &Context {
                session: s,
                fresh_login: false,
                fresh_consent: false,
                stored_consent: stored.as_ref(),
                consent_needed: &needed,
                hint_matches: None,
                upstream_login,
                granted: true,
            },
            now,
        )
    }

    #[test]
    fn r_eid_5_a_service_demanding_eid_steps_a_password_session_up_only_when_eid_login_is_on() {
        let plus = account(TrustLevel::Plus);
        let pwd = session(TrustLevel::Plus, Timestamp(100));
        let cl = client(TrustLevel::Eid);
        let req = request();
        assert_eq!(
            run_upstream(&req, &cl, Some((&pwd, &plus)), true, true, Timestamp(200)),
            Decision::Login(LoginReason::StepUp)
        );
        assert!(matches!(
            run_upstream(&req, &cl, Some((&pwd, &plus)), true, false, Timestamp(200)),
            Decision::Deny(_)
        ));
        let basic = account(TrustLevel::Basic);
        let basic_session = session(TrustLevel::Basic, Timestamp(100));
        assert!(
            matches!(
                run_upstream(&req, &cl, Some((&basic_session, &basic)), true, true, Timestamp(200)),
                Decision::Deny(_)
            ),
            "a basic account cannot reach eid"
        );
        let eid = Session {
            methods: vec![Method::Eid],
            ..session(TrustLevel::Eid, Timestamp(100))
        };
        assert_eq!(
            run_upstream(&req, &cl, Some((&eid, &plus)), true, true, Timestamp(200)),
            Decision::Issue {
                acr: Acr::of(TrustLevel::Eid)
            }
        );
    }

    #[test]
    fn r_els_4_a_service_demanding_elster_steps_an_organisation_users_password_session_up_only_with_a_certificate() {
        let org_user = Account {
            kind: AccountKind::Organisation,
            ..account(TrustLevel::Basic)
        };
        let pwd = session(TrustLevel::Basic, Timestamp(100));
        let mut cl = client(TrustLevel::Elster);
        cl.admits = Admits::Organisation;
        let req = request();
        assert_eq!(
            run_upstream(&req, &cl, Some((&pwd, &org_user)), true, true, Timestamp(200)),
            Decision::Login(LoginReason::StepUp)
        );
        assert!(
            matches!(
                run_upstream(&req, &cl, Some((&pwd, &org_user)), true, false, Timestamp(200)),
                Decision::Deny(_)
            ),
            "without a certificate elster is out of reach"
        );
        let mut eid_service = client(TrustLevel::Eid);
        eid_service.admits = Admits::Any;
        assert!(
            matches!(
                run_upstream(&req, &eid_service, Some((&pwd, &org_user)), true, true, Timestamp(200)),
                Decision::Deny(_)
            ),
            "ELSTER never reaches eid"
        );
        let elster = Session {
            methods: vec![Method::Elster],
            ..session(TrustLevel::Elster, Timestamp(100))
        };
        assert_eq!(
            run_upstream(&req, &cl, Some((&elster, &org_user)), true, true, Timestamp(200)),
            Decision::Issue {
                acr: Acr::of(TrustLevel::Elster)
            }
        );
    }

    #[test]
    fn r_svc_1_a_service_for_organisations_asks_a_citizen_to_log_in_with_another_account_and_refuses_a_fresh_login() {
        let citizen = account(TrustLevel::Basic);
        let s = session(TrustLevel::Basic, Timestamp(0));
        let mut cl = client(TrustLevel::Basic);
        cl.admits = Admits::Organisation;
        let req = request();
        assert_eq!(
            run(&req, &cl, Some((&s, &citizen)), true, Timestamp(10)),
            Decision::Login(LoginReason::OtherKind)
        );
        let needed = req.scope.clone();
        let fresh = Context {
            session: Some((&s, &citizen)),
            fresh_login: true,
            fresh_consent: false,
            stored_consent: Some(&needed),
            consent_needed: &needed,
            hint_matches: None,
            upstream_login: false,
            granted: true,
        };
        let refused = decide(&req, &cl, &fresh, Timestamp(10));
        assert_eq!(refused, Decision::Refuse(NotAdmitted::AccountKind(Admits::Organisation)));
        let Decision::Refuse(r) = refused else { unreachable!() };
        assert_eq!(r.error().code, OAuthErrorCode::AccessDenied);
        // prompt=none shows no page: the client hears it at once.
        let mut silent = request();
        silent.prompt.none = true;
        let Decision::Deny(e) = decide(&silent, &cl, &fresh, Timestamp(10)) else {
            panic!("a refusal without a page")
        };
        assert_eq!(e.code, OAuthErrorCode::AccessDenied);

        let organisation_user = Account {
            kind: AccountKind::Organisation,
            ..account(TrustLevel::Basic)
        };
        assert!(matches!(
            run(&req, &cl, Some((&s, &organisation_user)), true, Timestamp(10)),
            Decision::Issue { .. }
        ));
        cl.admits = Admits::Any;
        assert!(matches!(
            run(&req, &cl, Some((&s, &citizen)), true, Timestamp(10)),
            Decision::Issue { .. }
        ));
        cl.admits = Admits::Citizen;
        assert_eq!(
            run(&req, &cl, Some((&s, &organisation_user)), true, Timestamp(10)),
            Decision::Login(LoginReason::OtherKind)
        );
    }

    #[test]
    fn r_org_10_an_organisation_user_without_a_grant_is_refused_even_in_a_running_session() {
        let user = Account {
            kind: AccountKind::Organisation,
            ..account(TrustLevel::Basic)
        };
        let s = session(TrustLevel::Basic, Timestamp(0));
        let mut cl = client(TrustLevel::Basic);
        cl.admits = Admits::Organisation;
        let req = request();
        let needed = req.scope.clone();
        let ctx = |granted| Context {
            session: Some((&s, &user)),
            fresh_login: false,
            fresh_consent: false,
            stored_consent: Some(&needed),
            consent_needed: &needed,
            hint_matches: None,
            upstream_login: false,
            granted,
        };
        assert_eq!(
            decide(&req, &cl, &ctx(false), Timestamp(10)),
            Decision::Refuse(NotAdmitted::NotGranted)
        );
        assert!(matches!(decide(&req, &cl, &ctx(true), Timestamp(10)), Decision::Issue { .. }));
        assert_eq!(NotAdmitted::NotGranted.error().code, OAuthErrorCode::AccessDenied);
    }

    #[test]
    fn r_fed_2_a_person_from_another_land_is_a_citizen_and_a_service_for_organisations_refuses_them() {
        let mut cl = client(TrustLevel::Basic);
        cl.admits = Admits::Organisation;
        assert_eq!(
            decide_federated(&request(), &cl, TrustLevel::Basic, true),
            Decision::Refuse(NotAdmitted::AccountKind(Admits::Organisation))
        );
        cl.admits = Admits::Any;
        assert!(matches!(
            decide_federated(&request(), &cl, TrustLevel::Basic, true),
            Decision::Issue { .. }
        ));
    }

    #[test]
    fn no_session_means_login_and_prompt_none_means_login_required() {
        assert_eq!(
            run(&request(), &client(TrustLevel::Basic), None, false, Timestamp(0)),
            Decision::Login(LoginReason::NoSession)
        );
        let mut r = request();
        r.prompt.none = true;
        let Decision::Deny(e) = run(&r, &client(TrustLevel::Basic), None, false, Timestamp(0)) else {
            panic!()
        };
        assert_eq!(e.code, OAuthErrorCode::LoginRequired);
    }

    #[test]
    fn r_svc_3_consent_is_asked_once_and_prompt_consent_forces_it() {
        let (a, s) = (account(TrustLevel::Basic), session(TrustLevel::Basic, Timestamp(0)));
        assert_eq!(
            run(&request(), &client(TrustLevel::Basic), Some((&s, &a)), false, Timestamp(5)),
            Decision::Consent
        );
        assert!(matches!(
            run(&request(), &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(5)),
            Decision::Issue { .. }
        ));
        let mut r = request();
        r.prompt.consent = true;
        assert_eq!(
            run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(5)),
            Decision::Consent
        );
        r.prompt = Prompt {
            none: true,
            ..Prompt::default()
        };
        let Decision::Deny(e) = run(&r, &client(TrustLevel::Basic), Some((&s, &a)), false, Timestamp(5)) else {
            panic!()
        };
        assert_eq!(e.code, OAuthErrorCode::ConsentRequired);
    }

    #[test]
    fn max_age_and_prompt_login_force_a_new_login() {
        let (a, s) = (account(TrustLevel::Basic), session(TrustLevel::Basic, Timestamp(100)));
        let mut r = request();
        r.max_age = Some(10);
        assert_eq!(
            run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(111)),
            Decision::Login(LoginReason::TooOld)
        );
        assert!(matches!(
            run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(110)),
            Decision::Issue { .. }
        ));
        r.max_age = None;
        r.prompt.login = true;
        assert_eq!(
            run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(110)),
            Decision::Login(LoginReason::Forced)
        );
    }

    #[test]
    fn r_acr_4_client_minimum_is_enforced() {
        let (a, s) = (account(TrustLevel::Basic), session(TrustLevel::Basic, Timestamp(0)));
        let Decision::Deny(e) = run(&request(), &client(TrustLevel::Plus), Some((&s, &a)), true, Timestamp(1)) else {
            panic!()
        };
        assert_eq!(e.code, OAuthErrorCode::UnmetAuthenticationRequirements);
        let (a, s) = (account(TrustLevel::Plus), session(TrustLevel::Plus, Timestamp(0)));
        assert!(matches!(
            run(&request(), &client(TrustLevel::Plus), Some((&s, &a)), true, Timestamp(1)),
            Decision::Issue { .. }
        ));
    }

    #[test]
    fn r_acr_3_essential_unreachable_is_unmet_voluntary_gets_best_level() {
        let (a, s) = (account(TrustLevel::Plus), session(TrustLevel::Plus, Timestamp(0)));
        let mut r = request();
        r.acr = AcrRequest {
            values: vec!["urn:servicekonto:acr:eid".into()],
            essential: false,
        };
        assert_eq!(
            run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(1)),
            Decision::Issue {
                acr: Acr::of(TrustLevel::Plus)
            }
        );
        r.acr.essential = true;
        let Decision::Deny(e) = run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(1)) else {
            panic!()
        };
        assert_eq!(e.code, OAuthErrorCode::UnmetAuthenticationRequirements);
    }

    #[test]
    fn r_acr_3_a_session_below_what_the_account_reaches_steps_up() {
        // An account upgraded to Plus while a basic session is still open.
        let (a, s) = (account(TrustLevel::Plus), session(TrustLevel::Basic, Timestamp(0)));
        let mut r = request();
        r.acr = AcrRequest {
            values: vec!["urn:servicekonto:acr:plus".into()],
            essential: true,
        };
        assert_eq!(
            run(&r, &client(TrustLevel::Basic), Some((&s, &a)), true, Timestamp(1)),
            Decision::Login(LoginReason::StepUp)
        );
    }

    #[test]
    fn r_fed_3_a_federated_login_never_counts_above_what_the_land_asserted() {
        let mut r = request();
        assert_eq!(
            decide_federated(&r, &client(TrustLevel::Basic), TrustLevel::Plus, false),
            Decision::Consent,
            "consent on every transfer"
        );
        assert_eq!(
            decide_federated(&r, &client(TrustLevel::Basic), TrustLevel::Plus, true),
            Decision::Issue {
                acr: Acr::of(TrustLevel::Plus)
            }
        );
        let Decision::Deny(e) = decide_federated(&r, &client(TrustLevel::Plus), TrustLevel::Basic, true) else {
            panic!("a lower level than the service's minimum is refused")
        };
        assert_eq!(e.code, OAuthErrorCode::UnmetAuthenticationRequirements);
        r.acr = AcrRequest {
            values: vec!["urn:servicekonto:acr:eid".into()],
            essential: false,
        };
        assert_eq!(
            decide_federated(&r, &client(TrustLevel::Basic), TrustLevel::Plus, true),
            Decision::Issue {
                acr: Acr::of(TrustLevel::Plus)
            },
            "voluntary: the level reached, not the one asked for"
        );
        r.acr.essential = true;
        assert!(matches!(
            decide_federated(&r, &client(TrustLevel::Basic), TrustLevel::Plus, true),
            Decision::Deny(_)
        ));
    }
}
