//! Staff and upgrade requests.

use sqlx::any::AnyRow;

use super::{Store, StoreError, col};
use crate::ids::{AccountId, StaffId};
use crate::model::account::Address;
use crate::model::staff::{Role, Staff, UpgradeRequest};
use crate::secret::Secret;

fn staff_from_row(row: &AnyRow) -> Result<Staff, StoreError> {
    const T: &str = "staff";
    Ok(Staff {
        id: col(row, "staff_id", T)?,
        username: col(row, "username", T)?,
        password_hash: Secret::new(col(row, "password_hash", T)?),
        name: col(row, "name", T)?,
        role: Role::parse(&col::<String>(row, "role", T)?).ok_or(StoreError::Corrupt(T))?,
        created_at: col(row, "created_at", T)?,
        totp_secret: col(row, "totp_secret", T)?,
    })
}

fn request_from_row(row: &AnyRow) -> Result<UpgradeRequest, StoreError> {
    const T: &str = "upgrade_requests";
    Ok(UpgradeRequest {
        account_id: col(row, "account_id", T)?,
        birthdate: col(row, "birthdate", T)?,
        address: Address {
            street: col(row, "street", T)?,
            house_number: col(row, "house_number", T)?,
            postal_code: col(row, "postal_code", T)?,
            city: col(row, "city", T)?,
            country: col(row, "country", T)?,
        },
        requested_at: col(row, "requested_at", T)?,
    })
}

impl Store {
    /// Inserts a staff member; a taken username is a `Conflict`.
    pub async fn insert_staff(&self, s: &Staff) -> Result<(), StoreError> {
        sqlx::query(
            "insert into staff (staff_id, username, password_hash, name, role, created_at, totp_secret) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(&s.username)
        .bind(s.password_hash.expose())
        .bind(&s.name)
        .bind(s.role.as_str())
        .bind(s.created_at)
        .bind(s.totp_secret.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces a staff member's sealed TOTP seed (a new enrolment); codes of the old one stop
    /// working. `false` when there is no such member.
    pub async fn set_staff_totp(&self, username: &str, sealed: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("update staff set totp_secret = $1, totp_last_step = 0 where username = $2")
            .bind(sealed)
            .bind(username)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Takes TOTP time step `step` for a staff member: `true` only if no code of this or a later
    /// step was accepted before, atomically across nodes (RFC 6238 §5.2: a code works once).
    pub async fn take_totp_step(&self, staff_id: &StaffId, step: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("update staff set totp_last_step = $1 where staff_id = $2 and totp_last_step < $1")
            .bind(step)
            .bind(staff_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// A staff member by login name.
    pub async fn staff_by_username(&self, username: &str) -> Result<Option<Staff>, StoreError> {
        let row =
            sqlx::query("select staff_id, username, password_hash, name, role, created_at, totp_secret from staff where username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(staff_from_row).transpose()
    }

    /// A staff member by id.
    pub async fn staff(&self, id: &StaffId) -> Result<Option<Staff>, StoreError> {
        let row =
            sqlx::query("select staff_id, username, password_hash, name, role, created_at, totp_secret from staff where staff_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(staff_from_row).transpose()
    }

    /// Stores (or replaces) an account's upgrade request.
    pub async fn put_upgrade_request(&self, r: &UpgradeRequest) -> Result<(), StoreError> {
        sqlx::query(
            "insert into upgrade_requests (account_id, birthdate, street, house_number, postal_code, city, country, requested_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (account_id) do update set birthdate = excluded.birthdate, \
             street = excluded.street, house_number = excluded.house_number, postal_code = excluded.postal_code, \
             city = excluded.city, country = excluded.country, requested_at = excluded.requested_at",
        )
        .bind(&r.account_id)
        .bind(&r.birthdate)
        .bind(&r.address.street)
        .bind(&r.address.house_number)
        .bind(&r.address.postal_code)
        .bind(&r.address.city)
        .bind(&r.address.country)
        .bind(r.requested_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An account's open upgrade request.
    pub async fn upgrade_request(&self, account_id: &AccountId) -> Result<Option<UpgradeRequest>, StoreError> {
        let row = sqlx::query(
            "select account_id, birthdate, street, house_number, postal_code, city, country, requested_at from upgrade_requests where account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// Open upgrade requests, oldest first.
    pub async fn upgrade_requests(&self) -> Result<Vec<UpgradeRequest>, StoreError> {
        let rows = sqlx::query(
            "select account_id, birthdate, street, house_number, postal_code, city, country, requested_at from upgrade_requests \
             order by requested_at, account_id limit 200",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Closes a request.
    pub async fn delete_upgrade_request(&self, account_id: &AccountId) -> Result<(), StoreError> {
        sqlx::query("delete from upgrade_requests where account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
