//! Pending registrations (R-REG-4): kept until activated or until their link expires.

use sqlx::any::AnyRow;

use super::{Store, StoreError, col};
use crate::clock::Timestamp;
use crate::model::account::PendingRegistration;
use crate::secret::Secret;

const T: &str = "registrations";
macro_rules! columns {
    () => {
        "registration_id, token_hash, email, password_hash, given_name, family_name, locale, created_at, expires_at, identity, organisation"
    };
}

fn from_row(row: &AnyRow) -> Result<PendingRegistration, StoreError> {
    Ok(PendingRegistration {
        id: col(row, "registration_id", T)?,
        token_hash: col(row, "token_hash", T)?,
        email: col(row, "email", T)?,
        password_hash: Secret::new(col(row, "password_hash", T)?),
        given_name: col(row, "given_name", T)?,
        family_name: col(row, "family_name", T)?,
        locale: col(row, "locale", T)?,
        identity: match col::<Option<String>>(row, "identity", T)? {
            Some(j) => Some(serde_json::from_str(&j).map_err(|_| StoreError::Corrupt(T))?),
            None => None,
        },
        organisation: match col::<Option<String>>(row, "organisation", T)? {
            Some(j) => Some(serde_json::from_str(&j).map_err(|_| StoreError::Corrupt(T))?),
            None => None,
        },
        created_at: col(row, "created_at", T)?,
        expires_at: col(row, "expires_at", T)?,
    })
}

/// The live registration behind a link's token hash.
const LIVE_BY_TOKEN: &str = concat!(
    "select ",
    columns!(),
    " from registrations where token_hash = $1 and expires_at >= $2"
);

impl Store {
    /// Stores a pending registration, replacing an earlier one for the same email (the newest
    /// link wins; the older one stops working).
    pub async fn put_registration(&self, r: &PendingRegistration) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("delete from registrations where email = $1")
            .bind(&r.email)
            .execute(&mut *tx)
            .await?;
        sqlx::query(concat!(
            "insert into registrations (",
            columns!(),
            ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&r.id)
        .bind(&r.token_hash)
        .bind(&r.email)
        .bind(r.password_hash.expose())
        .bind(&r.given_name)
        .bind(&r.family_name)
        .bind(&r.locale)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(match &r.identity {
            Some(i) => Some(serde_json::to_string(i).map_err(|_| StoreError::Corrupt(T))?),
            None => None,
        })
        .bind(match &r.organisation {
            Some(o) => Some(serde_json::to_string(o).map_err(|_| StoreError::Corrupt(T))?),
            None => None,
        })
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the live registration behind a link (single use: of concurrent callers one gets it).
    pub async fn take_registration(&self, token_hash: &str, now: Timestamp) -> Result<Option<PendingRegistration>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(LIVE_BY_TOKEN)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let r = from_row(&row)?;
        let n = sqlx::query("delete from registrations where registration_id = $1")
            .bind(&r.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((n == 1).then_some(r))
    }

    /// The live registration behind this link, if one waits (read, not taken).
    pub async fn registration_pending(&self, token_hash: &str, now: Timestamp) -> Result<Option<PendingRegistration>, StoreError> {
        let row = sqlx::query(LIVE_BY_TOKEN)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Whether a registration for this email is pending (tests, operators).
    pub async fn registration_for(&self, email: &str) -> Result<Option<PendingRegistration>, StoreError> {
        let row = sqlx::query(concat!("select ", columns!(), " from registrations where email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Deletes registrations whose link has expired, so the email can register again.
    pub async fn purge_registrations(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query("delete from registrations where expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
