//! Route paths, in one place: the router, discovery and the links in mails are built from them.

/// OpenID Provider metadata.
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
/// OAuth 2.0 Authorization Server metadata (RFC 8414), the same document.
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
/// JWK Set.
pub const JWKS: &str = "/jwks";
/// Authorization endpoint.
pub const AUTHORIZE: &str = "/authorize";
/// Continues an authorization after login or consent.
pub const AUTHORIZE_RESUME: &str = "/authorize/resume";
/// Token endpoint.
pub const TOKEN: &str = "/token";
/// The resource API's prefix (PRODUCT §9).
pub const API: &str = "/api/v1";
/// The caller's own account (`API` + this).
pub const API_ME: &str = "/me";
/// The OpenAPI document of the API (`API` + this).
pub const API_OPENAPI: &str = "/openapi.json";
/// Userinfo endpoint.
pub const USERINFO: &str = "/userinfo";
/// Revocation endpoint (RFC 7009).
pub const REVOKE: &str = "/revoke";
/// Introspection endpoint (RFC 7662).
pub const INTROSPECT: &str = "/introspect";
/// End-session endpoint (RP-Initiated Logout).
pub const LOGOUT: &str = "/logout";
/// Login page.
pub const LOGIN: &str = "/login";
/// Consent page.
pub const CONSENT: &str = "/consent";
/// Registration form (R-REG-1).
pub const REGISTER: &str = "/register";
/// Registration summary and consent (R-REG-3).
pub const REGISTER_SUMMARY: &str = "/register/summary";
/// "Check your mail" after registering.
pub const REGISTER_SENT: &str = "/register/sent";
/// Registration of an organisation, step 1 of 4: its data (R-ORG-1, -2).
pub const ORG_REGISTER: &str = "/register/organisation";
/// Step 2: the administrator's access (R-ORG-3).
pub const ORG_REGISTER_ADMIN: &str = "/register/organisation/admin";
/// Step 3: the online services.
pub const ORG_REGISTER_SERVICES: &str = "/register/organisation/services";
/// Step 4: summary and consent.
pub const ORG_REGISTER_SUMMARY: &str = "/register/organisation/summary";
/// The activation link of an organisation's registration.
pub const ORG_ACTIVATE: &str = "/register/organisation/activate";
/// The administration of one's organisation (R-ORG-4…11).
pub const ORG_ADMIN: &str = "/org/";
/// Invite a user.
pub const ORG_USERS_NEW: &str = "/org/users/new";
/// Delete a user.
pub const ORG_USERS_DELETE: &str = "/org/users/delete";
/// Create a group.
pub const ORG_GROUPS: &str = "/org/groups";
/// Subscribe to a service.
pub const ORG_SUBSCRIBE: &str = "/org/services/subscribe";
/// End a subscription.
pub const ORG_UNSUBSCRIBE: &str = "/org/services/unsubscribe";
/// The switch "administrators may use online services".
pub const ORG_SWITCH: &str = "/org/switch";
/// Delete the organisation.
pub const ORG_DELETE: &str = "/org/delete";
/// Activation link target (R-REG-4).
pub const ACTIVATE: &str = "/register/activate";
/// Asks for a reset link (R-SES-4).
pub const FORGOT: &str = "/password/forgot";
/// Reset link target.
pub const RESET: &str = "/password/reset";
/// Block link target (R-SES-6).
pub const BLOCK: &str = "/block";
/// Profile (R-PRO-1, R-PRO-4, R-SVC-3).
pub const PROFILE: &str = "/profile";
/// Password change.
pub const PROFILE_PASSWORD: &str = "/profile/password";
/// Email change (R-PRO-2).
pub const PROFILE_EMAIL: &str = "/profile/email";
/// Email change confirmation link target.
pub const EMAIL_CONFIRM: &str = "/profile/email/confirm";
/// Account deletion (R-PRO-3).
pub const PROFILE_DELETE: &str = "/profile/delete";
/// Starts a login at an upstream identity provider.
pub const UPSTREAM_START: &str = "/upstream/{id}/start";
/// Our redirect URI at an upstream identity provider.
pub const UPSTREAM_CALLBACK: &str = "/upstream/{id}/callback";
/// The list of Länder for a login through another Servicekonto (R-FED-1).
pub const LOGIN_LAND: &str = "/login/land";
/// Back to the service from a login through another Land.
pub const LOGIN_LAND_ABORT: &str = "/login/land/abort";
/// Switches eID login off (R-EID-3).
pub const PROFILE_EID_OFF: &str = "/profile/eid/off";
/// Deletes the user's ELSTER certificate link (R-ELS-3).
pub const PROFILE_ELSTER_DELETE: &str = "/profile/elster/delete";
/// Staff login.
pub const STAFF_LOGIN: &str = "/staff/login";
/// Staff logout.
pub const STAFF_LOGOUT: &str = "/staff/logout";
/// Staff start page: open requests (R-EID-2).
pub const STAFF_HOME: &str = "/staff/";
/// One request and the clerk's decision.
pub const STAFF_REQUEST: &str = "/staff/requests/{account_id}";
/// One pending subscription and the Fachliche Leitstelle's decision (R-ORG-7).
pub const STAFF_SUBSCRIPTION: &str = "/staff/subscriptions/{org_id}/{client_id}";
/// A citizen asks for the in-person check (R-EID-2).
pub const PROFILE_PLUS_REQUEST: &str = "/profile/plus-request";
/// Withdraws a consent (R-SVC-3).
pub const PROFILE_CONSENT_WITHDRAW: &str = "/profile/consents/withdraw";
/// Start page.
pub const HOME: &str = "/";
/// The catalogue of online services (R-SVC-2).
pub const SERVICES: &str = "/dienste";
/// Accessibility statement.
pub const ACCESSIBILITY: &str = "/barrierefreiheit";
/// Style sheet.
pub const STYLE: &str = "/static/style.css";
/// Demo relying party.
pub const DEMO: &str = "/demo";
/// Demo relying party's redirect URI.
pub const DEMO_CALLBACK: &str = "/demo/callback";
/// Liveness.
pub const HEALTHZ: &str = "/healthz";
/// Readiness.
pub const READYZ: &str = "/readyz";
/// Prometheus metrics.
pub const METRICS: &str = "/metrics";
