//! Durable storage: one set of portable SQL queries over `sqlx`'s Any driver, serving SQLite
//! (embedded default) and PostgreSQL alike. One file per aggregate.

mod account_tokens;
mod accounts;
mod audit;
mod clients;
mod consents;
mod eid;
mod elster;
mod grants;
mod idempotency;
mod keys;
mod mail;
mod orgs;
mod registrations;
mod secrets;
mod staff;

pub use grants::RotateOutcome;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// Which database is behind the pool; only DDL and connection set-up differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded file database.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Storage failures, mapped once so callers can tell conflicts from outages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database is unreachable or failed.
    #[error("database error: {0}")]
    Database(String),
    /// A stored value cannot be read back (a bug or manual edit).
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error()
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_string());
        }
        StoreError::Database(e.to_string())
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`); for SQLite, creates the file and its
    /// directory when missing.
    pub async fn connect(url: &str, timeout: std::time::Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let (file, query) = path.split_once('?').unwrap_or((path, ""));
            if let Some(parent) = std::path::Path::new(file).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(format!("{}: {e}", parent.display())))?;
            }
            let query = if query.is_empty() {
                "mode=rwc".to_string()
            } else {
                query.to_string()
            };
            (Backend::Sqlite, format!("sqlite://{file}?{query}"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::Database("database_url must start with sqlite:// or postgres://".into()));
        };
        let options = AnyPoolOptions::new().acquire_timeout(timeout);
        let options = match backend {
            // A SQLite connection is a file handle in this process: pinging it before every
            // use (sqlx's default) only adds a round trip to its worker thread per statement.
            Backend::Sqlite => options.max_connections(4).test_before_acquire(false).after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "pragma foreign_keys = on; pragma busy_timeout = 5000; pragma journal_mode = wal; pragma synchronous = normal;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(16),
        };
        let pool = options.connect(&url).await?;
        Ok(Store { pool, backend })
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.pool).await.map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(self.applied_migrations().await.unwrap_or(0).saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query("select count(*) as n from _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails with
    /// "database is locked" at once, without waiting out `busy_timeout`, when another connection
    /// wrote since its read — under concurrent logins, registrations and audit writes it did.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (readiness).
    pub async fn ping(&self) -> Result<(), String> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Closes the pool (tests, shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A query under construction on the Any driver.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds an address as the five columns street, house_number, postal_code, city, country
/// (all null without an address), in that order.
fn bind_address<'q>(q: AnyQuery<'q>, a: Option<&crate::model::account::Address>) -> AnyQuery<'q> {
    q.bind(a.map(|x| x.street.clone()))
        .bind(a.map(|x| x.house_number.clone()))
        .bind(a.map(|x| x.postal_code.clone()))
        .bind(a.map(|x| x.city.clone()))
        .bind(a.map(|x| x.country.clone()))
}

/// Reads a column, naming the table when the value is unusable.
fn col<T>(row: &AnyRow, name: &str, table: &'static str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name).map_err(|_| StoreError::Corrupt(table))
}
