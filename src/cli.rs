//! The operator's command line. Every command reads the same layered configuration and, with
//! `--json`, prints exactly one JSON object.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::accounts::{self, Address, NewAccount};
use crate::audit::Event;
use crate::clients::{self, Admits, AuthMethod, GrantType, NewClient, Offer, SubjectType};
use crate::clock;
use crate::config::{Config, LogFormat};
use crate::ids::{AccountId, ClientId, OrgId};
use crate::keys::Keys;
use crate::orgs::{self, Admin, NewOrganisation, OrgAddress};
use crate::secret::Secret;
use crate::secrets::ServerSecrets;
use crate::server;
use crate::store::Store;
use crate::trust::TrustLevel;

/// `servicekonto` — OpenID Connect identity provider.
#[derive(Parser)]
#[command(name = "servicekonto", version, about)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "SERVICEKONTO_CONFIG")]
    config: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The parser of a domain enum that lists its values (`all`) and names each (`name`): `--help`
/// shows the names, and the domain types need no clap derive.
fn named<T: Copy + Send + Sync + 'static>(all: &'static [T], name: fn(T) -> &'static str) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(|v| name(*v)))
        .try_map(move |s| all.iter().copied().find(|v| name(*v) == s).ok_or("not a listed value"))
}

#[derive(Subcommand)]
enum Command {
    /// Run the identity provider.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage online services (OIDC clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage organisations (Servicekonto Business).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage staff (Kundenzentrum clerks).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Read the audit log of security events (R-SEC-6), oldest first.
    Audit(AuditArgs),
    /// Run a simulator of an upstream identity provider (development and tests only).
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff member with a second factor (TOTP): the QR code and URI are shown once.
    Add(StaffAdd),
    /// Enrol a new second factor for a staff member (a lost phone); the old one stops working.
    ResetTotp {
        /// Login name.
        #[arg(long)]
        username: String,
    },
}

#[derive(Args)]
struct StaffAdd {
    /// Role: kundenzentrum (confirms identities in person) or leitstelle (releases services for
    /// organisations).
    #[arg(long)]
    role: String,
    /// Login name.
    #[arg(long)]
    username: String,
    /// Password (R-REG-2 applies).
    #[arg(long, env = "SERVICEKONTO_STAFF_PASSWORD")]
    password: String,
    /// Full name, as the audit trail shows it.
    #[arg(long)]
    name: String,
}

#[derive(Args)]
struct AuditArgs {
    /// Events since a date (2026-12-01), a UTC time (2026-12-01T08:00:00Z) or an age (90m, 24h, 7d).
    #[arg(long, default_value = "24h")]
    since: String,
    /// Only events concerning this account (its id or login email).
    #[arg(long, allow_hyphen_values = true)]
    account: Option<String>,
    /// Only actions starting with this (`login.`, `password.`, `staff.`, `key.`).
    #[arg(long)]
    action: Option<String>,
    /// At most this many events, the newest.
    #[arg(long, default_value_t = 1000)]
    limit: u32,
}

#[derive(Subcommand)]
enum SimCommand {
    /// The eID service: an OpenID Provider with test persons of the online ID function.
    Eid(SimEid),
    /// ELSTER: an OpenID Provider with test organisations and their organisation certificates.
    Elster(SimArgs),
}

#[derive(Args)]
struct SimEid {
    #[command(flatten)]
    sim: SimArgs,
    /// Name the data groups as the eID-Server does (GivenNames, FamilyNames, DateOfBirth).
    #[arg(long)]
    eid_server_names: bool,
}

#[derive(Args)]
struct SimArgs {
    /// Listen address, e.g. 127.0.0.1:9100; the issuer is http://ADDRESS.
    #[arg(long)]
    bind: std::net::SocketAddr,
    /// The client id the IdP uses.
    #[arg(long)]
    client_id: String,
    /// The client secret the IdP uses.
    #[arg(long, env = "SERVICEKONTO_SIM_CLIENT_SECRET")]
    client_secret: String,
    /// The IdP's callback, `{issuer}/upstream/{id}/callback`.
    #[arg(long)]
    redirect_uri: String,
    /// The IdP's JWKS, to accept private_key_jwt client authentication.
    #[arg(long)]
    client_jwks_uri: Option<String>,
}

impl SimArgs {
    fn config(self) -> crate::sim::op::SimConfig {
        crate::sim::op::SimConfig {
            bind: self.bind,
            client_id: self.client_id,
            client_secret: Secret::new(self.client_secret),
            redirect_uri: self.redirect_uri,
            client_jwks_uri: self.client_jwks_uri,
        }
    }
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register an online service.
    Add(Box<ClientAdd>),
    /// List registered services.
    List,
    /// Remove a service with its consents and grants.
    Remove {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

#[derive(Args)]
struct ClientAdd {
    /// Display name shown on the consent page.
    #[arg(long)]
    name: String,
    /// Redirect URI (repeatable; compared exactly).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Where to POST logout tokens when a session the service relied on ends (Back-Channel
    /// Logout 1.0).
    #[arg(long = "backchannel-logout-uri")]
    backchannel_logout_uri: Option<String>,
    /// Citizens may log in through another Land's Servicekonto (R-FED-2).
    #[arg(long)]
    allow_interop: bool,
    /// The client is another Land's Servicekonto: consent on every transfer, no single
    /// sign-on, its per-transaction data kept at most 7 days (R-FED-4).
    #[arg(long)]
    federation_partner: bool,
    /// Which kinds of account may use the service (R-SVC-1).
    #[arg(long, value_parser = named(Admits::ALL, Admits::as_str), default_value = "citizen")]
    account_kind: Admits,
    /// Organisations may use the service only once the Fachliche Leitstelle released it.
    #[arg(long)]
    requires_approval: bool,
    /// A role the service defines, granted by organisations to their users (repeatable).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// What the service does, for the catalogue (R-SVC-2).
    #[arg(long)]
    description: Option<String>,
    /// What the service costs, for the catalogue.
    #[arg(long)]
    cost_note: Option<String>,
    /// Grant type (repeatable; default authorization_code + refresh_token).
    #[arg(long = "grant-type", value_parser = named(GrantType::ALL, GrantType::as_str))]
    grant_types: Vec<GrantType>,
    /// Client authentication method.
    #[arg(long, value_parser = named(AuthMethod::ALL, AuthMethod::as_str), default_value = "client_secret_basic")]
    auth_method: AuthMethod,
    /// JWK Set URL (for private_key_jwt).
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Allowed scope (repeatable; default: all supported).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Minimum trust level (basic, plus, elster, eid or any acr value).
    #[arg(long, default_value = "basic")]
    min_acr: String,
    /// Client id (generated when absent).
    #[arg(long)]
    client_id: Option<String>,
    /// Client secret (generated when absent; at least 32 characters).
    #[arg(long)]
    secret: Option<String>,
    /// Subject identifier type.
    #[arg(long, value_parser = named(SubjectType::ALL, SubjectType::as_str), default_value = "pairwise")]
    subject_type: SubjectType,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an active citizen account.
    Add(Box<AccountAdd>),
}

#[derive(Args)]
struct AccountAdd {
    /// Login email.
    #[arg(long)]
    email: String,
    /// Password (R-REG-2).
    #[arg(long)]
    password: String,
    /// Given name(s).
    #[arg(long)]
    given_name: String,
    /// Family name.
    #[arg(long)]
    family_name: String,
    /// Mark the identity as verified (Servicekonto Plus).
    #[arg(long)]
    plus: bool,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long)]
    birthdate: Option<String>,
    /// Street.
    #[arg(long)]
    street: Option<String>,
    /// House number.
    #[arg(long)]
    house_number: Option<String>,
    /// Postal code.
    #[arg(long)]
    postal_code: Option<String>,
    /// Town.
    #[arg(long)]
    city: Option<String>,
    /// Country (ISO 3166-1 alpha-2).
    #[arg(long, default_value = "DE")]
    country: String,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Register an organisation with its first administrator, active at once.
    Add(Box<OrgAdd>),
    /// Subscribe an organisation to a service: released at once, or pending when the service
    /// requires the Fachliche Leitstelle's approval.
    Subscribe {
        /// The organisation's id.
        #[arg(long = "org", allow_hyphen_values = true)]
        org_id: String,
        /// The service's client id.
        #[arg(long, allow_hyphen_values = true)]
        client_id: String,
    },
    /// Release a pending subscription, as the Fachliche Leitstelle does.
    Release {
        /// The organisation's id.
        #[arg(long = "org", allow_hyphen_values = true)]
        org_id: String,
        /// The service's client id.
        #[arg(long, allow_hyphen_values = true)]
        client_id: String,
    },
    /// Grant a released service to a user of the organisation directly.
    Grant {
        /// The organisation's id.
        #[arg(long = "org", allow_hyphen_values = true)]
        org_id: String,
        /// The user's id.
        #[arg(long = "user", allow_hyphen_values = true)]
        user_id: String,
        /// The service's client id.
        #[arg(long, allow_hyphen_values = true)]
        client_id: String,
        /// A role the service defines (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Switch whether the organisation's administrators may use services.
    AdminsUseServices {
        /// The organisation's id.
        #[arg(long = "org", allow_hyphen_values = true)]
        org_id: String,
        /// On or off.
        #[arg(action = clap::ArgAction::Set)]
        on: bool,
    },
}

#[derive(Args)]
struct OrgAdd {
    /// The organisation's name (R-ORG-1).
    #[arg(long)]
    name: String,
    /// The administrator's email, their login name (R-ORG-3).
    #[arg(long)]
    admin_email: String,
    /// The administrator's password (R-REG-2).
    #[arg(long, env = "SERVICEKONTO_ADMIN_PASSWORD")]
    admin_password: String,
    /// The administrator's given name.
    #[arg(long)]
    admin_given_name: String,
    /// The administrator's family name.
    #[arg(long)]
    admin_family_name: String,
    /// The administrator's phone number (required for administrators).
    #[arg(long)]
    admin_phone: String,
    /// Handelsregisternummer (companies).
    #[arg(long)]
    trade_register: Option<String>,
    /// Street (the town where there is no street).
    #[arg(long)]
    street: Option<String>,
    /// House number (`0` where there is none).
    #[arg(long)]
    house_number: Option<String>,
    /// Postal code.
    #[arg(long)]
    postal_code: Option<String>,
    /// Town.
    #[arg(long)]
    city: Option<String>,
    /// PO box (4-20 digits).
    #[arg(long)]
    po_box: Option<String>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List keys and their status.
    List,
    /// Add a new signing key per algorithm; running nodes pick it up.
    Rotate,
    /// Revoke a key at once (R-SEC-5): it verifies nothing and leaves the JWKS on every node
    /// within the reload interval; an active key is replaced first.
    Revoke {
        /// The key id (`keys list`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// Parses the command line and runs it.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json_out = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if json_out {
                println!("{}", json!({ "error": message }));
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn emit(json_out: bool, value: Value, text: String) {
    if json_out {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

/// Prints a TOTP enrolment, the only time it is ever shown: the QR code to scan and the URI.
fn emit_enrollment(j: bool, out: &mut Value, text: String, enrollment: &crate::staff::totp::Enrollment) {
    out["totp_uri"] = enrollment.uri.expose().clone().into();
    out["totp_qr"] = enrollment.qr.expose().clone().into();
    let text = format!(
        "{text}\nScan this code with an authenticator app now; it is shown only once:\n{}\n{}",
        enrollment.qr.expose(),
        enrollment.uri.expose()
    );
    emit(j, out.clone(), text);
}

/// Records what an operator did; the action is done, so a failure says so.
async fn operator_event(store: &Store, event: Event) -> Result<(), String> {
    let action = event.action.clone();
    event
        .record(store)
        .await
        .map_err(|e| format!("{action} done, but the audit log could not record it: {e}"))
}

async fn audit(a: AuditArgs, config: &Config, j: bool, now: clock::Timestamp) -> Result<(), String> {
    let since = crate::audit::parse_since(&a.since, now).ok_or_else(|| {
        format!(
            "--since {:?}: give a date (2026-12-01), a UTC time (2026-12-01T08:00:00Z) or an age (24h, 7d)",
            a.since
        )
    })?;
    let store = open_store(config).await?;
    let account_id = match a.account {
        Some(login) if login.contains('@') => {
            let email = accounts::normalize_email(&login).map_err(|e| e.to_string())?;
            // An unknown address still finds events of a deleted account only by its id.
            Some(
                store
                    .account_by_email(&email)
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|acc| acc.id)
                    .unwrap_or(AccountId::new(email)),
            )
        }
        other => other.map(AccountId::new),
    };
    let query = crate::audit::Query {
        since,
        account_id,
        action: a.action,
        limit: a.limit,
    };
    let events = crate::audit::query(&store, &query).await.map_err(|e| e.to_string())?;
    let time = |at: clock::Timestamp| clock::rfc3339(at).unwrap_or_default();
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "at": e.at, "time": time(e.at), "actor": e.actor, "action": e.action, "account_id": e.account_id,
                "client_addr": e.client_addr, "outcome": e.outcome, "details": e.details,
            })
        })
        .collect();
    let text = events
        .iter()
        .map(|e| {
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                time(e.at),
                e.actor,
                e.action,
                e.outcome,
                dash(&e.account_id.as_ref().map(AccountId::to_string)),
                dash(&e.client_addr),
                dash(&e.details)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    emit(j, json!({ "events": list }), text);
    Ok(())
}

async fn open_store(config: &Config) -> Result<Store, String> {
    let store = Store::connect(&config.database_url, config.database_timeout())
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

/// Runs a parsed command; the error is a message for the operator.
pub async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    let j = cli.json;
    let now = clock::now();
    match cli.command {
        Command::Serve => {
            init_logging(config.log_format);
            let bind = config.bind.clone();
            let state = server::prepare(config).await.map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
            tracing::info!(issuer = %state.config.issuer, address = %bind, demo = state.config.demo_enabled(), "servicekonto listening");
            server::serve(state, listener, server::shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let store = Store::connect(&config.database_url, config.database_timeout())
                .await
                .map_err(|e| e.to_string())?;
            let applied = store.migrate().await.map_err(|e| e.to_string())?;
            emit(j, json!({ "applied": applied }), format!("{applied} migration(s) applied"));
            Ok(())
        }
        Command::Client(cmd) => client(cmd, &config, j, now).await,
        Command::Audit(a) => audit(a, &config, j, now).await,
        Command::Staff(StaffCommand::Add(a)) => {
            let store = open_store(&config).await?;
            let secrets = ServerSecrets::load(&config.secrets, &store, now).await.map_err(|e| e.to_string())?;
            let role = crate::staff::Role::parse(&a.role).ok_or_else(|| format!("unknown role {}", a.role))?;
            let hasher = crate::accounts::password::Hasher::new(1, 0);
            let deps = (&store, &hasher, &secrets.staff_totp_key);
            let (staff, enrollment) = crate::staff::create(deps, &a.username, Secret::new(a.password), &a.name, role, now)
                .await
                .map_err(|e| e.to_string())?;
            let event = Event::new("staff.add", now)
                .by_operator()
                .details(format!("{} as {}", staff.username, staff.role.as_str()));
            operator_event(&store, event).await?;
            let mut out = json!({ "staff_id": staff.id, "username": staff.username, "role": staff.role.as_str() });
            let text = format!("staff {} ({}) created", staff.username, staff.role.as_str());
            emit_enrollment(j, &mut out, text, &enrollment);
            Ok(())
        }
        Command::Staff(StaffCommand::ResetTotp { username }) => {
            let store = open_store(&config).await?;
            let secrets = ServerSecrets::load(&config.secrets, &store, now).await.map_err(|e| e.to_string())?;
            let enrollment = crate::staff::reset_totp((&store, &secrets.staff_totp_key), &username)
                .await
                .map_err(|e| match e {
                    crate::accounts::AccountError::UnknownStaff => format!("no staff member {username}"),
                    other => other.to_string(),
                })?;
            operator_event(&store, Event::new("staff.reset_totp", now).by_operator().details(username.clone())).await?;
            let mut out = json!({ "username": username });
            emit_enrollment(j, &mut out, format!("new second factor for {username}"), &enrollment);
            Ok(())
        }
        Command::Sim(SimCommand::Eid(a)) => {
            init_logging(config.log_format);
            let eid = crate::sim::eid::Eid {
                eid_server_names: a.eid_server_names,
            };
            crate::sim::op::serve(a.sim.config(), eid).await
        }
        Command::Sim(SimCommand::Elster(a)) => {
            init_logging(config.log_format);
            crate::sim::op::serve(a.config(), crate::sim::elster::Elster).await
        }
        Command::Account(AccountCommand::Add(a)) => {
            let store = open_store(&config).await?;
            let address = match (a.street, a.house_number, a.postal_code, a.city) {
                (Some(street), Some(house_number), Some(postal_code), Some(city)) => Some(Address {
                    street,
                    house_number,
                    postal_code,
                    city,
                    country: a.country,
                }),
                (None, None, None, None) => None,
                _ => return Err("give all of --street, --house-number, --postal-code and --city, or none".into()),
            };
            let new = NewAccount {
                email: a.email,
                password: Secret::new(a.password),
                given_name: a.given_name,
                family_name: a.family_name,
                plus: a.plus,
                birthdate: a.birthdate,
                address,
            };
            let hasher = accounts::password::Hasher::new(1, 0);
            let account = accounts::create(&store, &hasher, new, now).await.map_err(|e| e.to_string())?;
            operator_event(&store, Event::new("account.add", now).by_operator().account(Some(&account.id))).await?;
            emit(
                j,
                json!({ "account_id": account.id, "email": account.email, "level": account.level.name() }),
                format!("account {} created ({})", account.email, account.level.name()),
            );
            Ok(())
        }
        Command::Org(cmd) => org(cmd, &config, j, now).await,
        Command::Keys(cmd) => {
            let store = open_store(&config).await?;
            let source = crate::state::key_source(&config, &store).map_err(|e| e.to_string())?;
            let keys = Keys::open(source, config.tokens.access_token_alg, config.key_retention_seconds(), now)
                .await
                .map_err(|e| e.to_string())?;
            match cmd {
                KeysCommand::Rotate => {
                    let kids = keys.rotate(now).await.map_err(|e| e.to_string())?;
                    operator_event(&store, Event::new("key.rotate", now).by_operator().details(kids.join(", "))).await?;
                    emit(j, json!({ "rotated": kids }), format!("new signing keys: {}", kids.join(", ")));
                    return Ok(());
                }
                KeysCommand::Revoke { kid } => {
                    let successor = keys.revoke(&kid, now).await.map_err(|e| e.to_string())?;
                    let details = match &successor {
                        Some(s) => format!("{kid}, replaced by {s}"),
                        None => kid.clone(),
                    };
                    operator_event(&store, Event::new("key.revoke", now).by_operator().details(details)).await?;
                    let text = match &successor {
                        Some(s) => format!("key {kid} revoked; {s} signs now"),
                        None => format!("key {kid} revoked"),
                    };
                    emit(j, json!({ "revoked": kid, "successor": successor }), text);
                    return Ok(());
                }
                KeysCommand::List => {}
            }
            let list: Vec<Value> = keys
                .current()
                .list(now, keys.retention())
                .into_iter()
                .map(|(k, status)| json!({ "kid": k.kid, "alg": k.alg.as_str(), "created_at": k.created_at, "status": status }))
                .collect();
            let text = list
                .iter()
                .map(|k| {
                    format!(
                        "{}\t{}\t{}",
                        k["kid"].as_str().unwrap_or(""),
                        k["alg"].as_str().unwrap_or(""),
                        k["status"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            emit(j, json!({ "keys": list }), text);
            Ok(())
        }
    }
}

async fn org(cmd: OrgCommand, config: &Config, j: bool, now: clock::Timestamp) -> Result<(), String> {
    let store = open_store(config).await?;
    let client = |id: String| {
        let store = store.clone();
        async move {
            store
                .client(&ClientId::new(id.clone()))
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no client {id}"))
        }
    };
    match cmd {
        OrgCommand::Add(a) => {
            let address = match (a.street, a.house_number, a.postal_code, a.city) {
                (Some(street), Some(house_number), Some(postal_code), Some(city)) => Some(OrgAddress {
                    street,
                    house_number,
                    postal_code,
                    city,
                }),
                (None, None, None, None) => None,
                _ => return Err("give all of --street, --house-number, --postal-code and --city, or none".into()),
            };
            let new = NewOrganisation {
                name: a.name,
                trade_register: a.trade_register,
                address,
                po_box: a.po_box,
                admin_email: a.admin_email,
                admin_password: Secret::new(a.admin_password),
                admin_given_name: a.admin_given_name,
                admin_family_name: a.admin_family_name,
                admin_phone: a.admin_phone,
            };
            let hasher = accounts::password::Hasher::new(1, 0);
            let (org, admin) = orgs::create(&store, &hasher, new, now).await.map_err(|e| e.to_string())?;
            let event = Event::new("org.add", now)
                .by_operator()
                .account(Some(&admin.id))
                .details(org.id.as_str());
            operator_event(&store, event).await?;
            emit(
                j,
                json!({ "org_id": org.id, "user_id": admin.id, "name": org.name }),
                format!(
                    "organisation {} ({}) created; administrator {} ({})",
                    org.name, org.id, admin.email, admin.id
                ),
            );
            Ok(())
        }
        OrgCommand::Subscribe { org_id, client_id } => {
            let service = client(client_id).await?;
            let s = orgs::subscribe(&store, &Admin::operator(OrgId::new(org_id)), &service, now)
                .await
                .map_err(|e| e.to_string())?;
            let event = Event::new("org.subscribe", now)
                .by_operator()
                .details(format!("{} {}", s.org_id, s.client_id));
            operator_event(&store, event).await?;
            let state = s.state.as_str();
            emit(
                j,
                json!({ "org_id": s.org_id, "client_id": s.client_id, "state": state }),
                format!("subscribed: {state}"),
            );
            Ok(())
        }
        OrgCommand::Release { org_id, client_id } => {
            let (org_id, client_id) = (OrgId::new(org_id), ClientId::new(client_id));
            orgs::release(&store, &org_id, &client_id, now)
                .await
                .map_err(|_| format!("no pending subscription of {org_id} to {client_id}"))?;
            let event = Event::new("org.release", now)
                .by_operator()
                .details(format!("{org_id} {client_id}"));
            operator_event(&store, event).await?;
            emit(
                j,
                json!({ "org_id": org_id, "client_id": client_id, "state": "released" }),
                "released".into(),
            );
            Ok(())
        }
        OrgCommand::Grant {
            org_id,
            user_id,
            client_id,
            roles,
        } => {
            let service = client(client_id).await?;
            let user = AccountId::new(user_id);
            orgs::grant(&store, &Admin::operator(OrgId::new(org_id.clone())), &user, &service, &roles)
                .await
                .map_err(|e| e.to_string())?;
            let event = Event::new("org.grant", now)
                .by_operator()
                .account(Some(&user))
                .details(format!("{org_id} {}", service.id));
            operator_event(&store, event).await?;
            emit(
                j,
                json!({ "user_id": user, "client_id": service.id, "roles": roles }),
                "granted".into(),
            );
            Ok(())
        }
        OrgCommand::AdminsUseServices { org_id, on } => {
            let org_id = OrgId::new(org_id);
            orgs::set_admins_use_services(&store, &Admin::operator(org_id.clone()), on, now)
                .await
                .map_err(|_| format!("no organisation {org_id}"))?;
            let event = Event::new("org.admins_use_services", now)
                .by_operator()
                .details(format!("{org_id} {on}"));
            operator_event(&store, event).await?;
            emit(
                j,
                json!({ "org_id": org_id, "admins_use_services": on }),
                format!("administrators use services: {on}"),
            );
            Ok(())
        }
    }
}

async fn client(cmd: ClientCommand, config: &Config, j: bool, now: clock::Timestamp) -> Result<(), String> {
    let store = open_store(config).await?;
    match cmd {
        ClientCommand::Add(a) => {
            let secrets = ServerSecrets::load(&config.secrets, &store, now).await.map_err(|e| e.to_string())?;
            let min_level = TrustLevel::parse(&a.min_acr).ok_or_else(|| format!("unknown level {}", a.min_acr))?;
            let new = NewClient {
                name: a.name,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: a.post_logout_redirect_uris,
                backchannel_logout_uri: a.backchannel_logout_uri,
                allow_interop: a.allow_interop,
                federation_partner: a.federation_partner,
                offer: Offer {
                    admits: a.account_kind,
                    requires_approval: a.requires_approval,
                    roles: a.roles,
                    description: a.description,
                    cost_note: a.cost_note,
                },
                grant_types: a.grant_types,
                auth_method: a.auth_method,
                jwks_uri: a.jwks_uri,
                scopes: a.scopes,
                min_level,
                client_id: a.client_id,
                secret: a.secret.map(Secret::new),
                subject_type: a.subject_type,
            };
            let (client, secret) = clients::register(&store, (&secrets.client_secret_pepper, &secrets.pairwise_subject_key), new, now)
                .await
                .map_err(|e| e.to_string())?;
            operator_event(&store, Event::new("client.add", now).by_operator().details(client.id.as_str())).await?;
            let mut out = json!({ "client_id": client.id, "auth_method": client.auth_method.as_str() });
            let mut text = format!("client_id: {}", client.id);
            if let Some(s) = secret {
                out["client_secret"] = s.expose().clone().into();
                text.push_str(&format!("\nclient_secret: {}", s.expose()));
            }
            emit(j, out, text);
            Ok(())
        }
        ClientCommand::List => {
            let list: Vec<Value> = store
                .clients()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|c| {
                    json!({
                        "client_id": c.id, "name": c.name, "auth_method": c.auth_method.as_str(),
                        "redirect_uris": c.redirect_uris, "post_logout_redirect_uris": c.post_logout_redirect_uris,
                        "grant_types": c.grant_types, "scopes": c.scopes.to_string(), "min_acr": c.min_level.acr(),
                        "subject_type": c.subject_type.as_str(), "jwks_uri": c.jwks_uri,
                        "backchannel_logout_uri": c.backchannel_logout_uri,
                        "allow_interop": c.allow_interop, "federation_partner": c.federation_partner,
                        "account_kind": c.admits.as_str(), "requires_approval": c.requires_approval,
                        "roles": c.roles, "description": c.description, "cost_note": c.cost_note,
                    })
                })
                .collect();
            let text = list
                .iter()
                .map(|c| format!("{}\t{}", c["client_id"].as_str().unwrap_or(""), c["name"].as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("\n");
            emit(j, json!({ "clients": list }), text);
            Ok(())
        }
        ClientCommand::Remove { client_id } => {
            let client_id = ClientId::new(client_id);
            if store.remove_client(&client_id).await.map_err(|e| e.to_string())? {
                operator_event(&store, Event::new("client.remove", now).by_operator().details(client_id.as_str())).await?;
                emit(j, json!({ "removed": client_id }), format!("client {client_id} removed"));
                Ok(())
            } else {
                Err(format!("no client {client_id}"))
            }
        }
    }
}

// The ids we generate (accounts, clients, keys) are base64url and may begin with '-': every
// argument that takes one back says `allow_hyphen_values`, or clap reads such an id as a flag.
#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        match Cli::try_parse_from([&["servicekonto"], args].concat()) {
            Ok(c) => c.command,
            Err(e) => unreachable!("refused: {e}"),
        }
    }

    #[test]
    fn r_sec_6_audit_takes_an_account_id_that_begins_with_a_hyphen() {
        let Command::Audit(a) = parse(&["audit", "--account", "-tWLB4SiNs1Fpf2woiOIDA", "--limit", "5"]) else {
            unreachable!("parsed as another command")
        };
        assert_eq!(a.account.as_deref(), Some("-tWLB4SiNs1Fpf2woiOIDA"));
    }

    #[test]
    fn client_remove_and_key_revoke_take_ids_that_begin_with_a_hyphen() {
        let Command::Client(ClientCommand::Remove { client_id }) = parse(&["client", "remove", "-KqZ3"]) else {
            unreachable!("parsed as another command")
        };
        assert_eq!(client_id, "-KqZ3");
        let Command::Keys(KeysCommand::Revoke { kid }) = parse(&["keys", "revoke", "-x9"]) else {
            unreachable!("parsed as another command")
        };
        assert_eq!(kid, "-x9");
    }
}
