//! Accounts table.

use sqlx::any::AnyRow;

use super::{Store, StoreError, bind_address, col};
use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::model::account::{Account, AccountKind, Address};
use crate::secret::Secret;
use crate::trust::TrustLevel;

const T: &str = "accounts";
macro_rules! columns {
    () => {
        "account_id, email, password_hash, kind, level, given_name, family_name, birthdate, street, house_number, postal_code, city, country, phone_number, email_verified, created_at, updated_at, title, blocked_at, delivery_consent_at"
    };
}

pub(super) fn from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let street: Option<String> = col(row, "street", T)?;
    let address = match street {
        Some(street) => Some(Address {
            street,
            house_number: col::<Option<String>>(row, "house_number", T)?.unwrap_or_default(),
            postal_code: col::<Option<String>>(row, "postal_code", T)?.unwrap_or_default(),
            city: col::<Option<String>>(row, "city", T)?.unwrap_or_default(),
            country: col::<Option<String>>(row, "country", T)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Account {
        id: col(row, "account_id", T)?,
        email: col(row, "email", T)?,
        password_hash: Secret::new(col(row, "password_hash", T)?),
        kind: AccountKind::parse(&col::<String>(row, "kind", T)?).ok_or(StoreError::Corrupt(T))?,
        level: TrustLevel::parse(&col::<String>(row, "level", T)?).ok_or(StoreError::Corrupt(T))?,
        given_name: col(row, "given_name", T)?,
        family_name: col(row, "family_name", T)?,
        birthdate: col(row, "birthdate", T)?,
        address,
        phone_number: col(row, "phone_number", T)?,
        email_verified: col::<i64>(row, "email_verified", T)? != 0,
        created_at: col(row, "created_at", T)?,
        updated_at: col(row, "updated_at", T)?,
        title: col(row, "title", T)?,
        blocked_at: col(row, "blocked_at", T)?,
        delivery_consent_at: col(row, "delivery_consent_at", T)?,
    })
}

/// The statement that inserts `a` (for the pool or a transaction).
pub(super) fn account_insert(a: &Account) -> super::AnyQuery<'_> {
    bind_address(
        sqlx::query(concat!(
            "insert into accounts (",
            columns!(),
            ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ))
        .bind(&a.id)
        .bind(&a.email)
        .bind(a.password_hash.expose())
        .bind(a.kind.as_str())
        .bind(a.level.name())
        .bind(&a.given_name)
        .bind(&a.family_name)
        .bind(a.birthdate.clone()),
        a.address.as_ref(),
    )
    .bind(a.phone_number.clone())
    .bind(i64::from(a.email_verified))
    .bind(a.created_at)
    .bind(a.updated_at)
    .bind(a.title.clone())
    .bind(a.blocked_at)
    .bind(a.delivery_consent_at)
}

impl Store {
    /// Inserts a new account; a taken email is a `Conflict`.
    pub async fn insert_account(&self, a: &Account) -> Result<(), StoreError> {
        account_insert(a).execute(&self.pool).await?;
        Ok(())
    }

    /// The account with this (normalised) email.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(concat!("select ", columns!(), " from accounts where email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Writes the fields a profile edit may change (names, title, birthdate, address, phone,
    /// delivery consent); the domain decides which of them may change.
    pub async fn update_profile(&self, a: &Account) -> Result<(), StoreError> {
        bind_address(
            sqlx::query(
                "update accounts set title = $1, given_name = $2, family_name = $3, birthdate = $4, street = $5, house_number = $6, \
             postal_code = $7, city = $8, country = $9, phone_number = $10, delivery_consent_at = $11, updated_at = $12 \
             where account_id = $13",
            )
            .bind(a.title.clone())
            .bind(&a.given_name)
            .bind(&a.family_name)
            .bind(a.birthdate.clone()),
            a.address.as_ref(),
        )
        .bind(a.phone_number.clone())
        .bind(a.delivery_consent_at)
        .bind(a.updated_at)
        .bind(&a.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets a new password hash and lifts a block (a reset is the fresh verification that
    /// unblocking needs, R-SES-6).
    pub async fn set_password(&self, account_id: &AccountId, hash: &Secret<String>, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("update accounts set password_hash = $1, blocked_at = null, updated_at = $2 where account_id = $3")
            .bind(hash.expose())
            .bind(now)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks the account's email as confirmed (a mailed link was used).
    pub async fn confirm_email(&self, account_id: &AccountId) -> Result<(), StoreError> {
        sqlx::query("update accounts set email_verified = 1 where account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes organisation users who never used their invitation and were created before
    /// `before` (R-ORG-4), with what is stored for them.
    pub async fn purge_unactivated_org_users(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        for q in [
            "delete from org_user_services where account_id in \
             (select account_id from accounts where kind = 'organisation' and email_verified = 0 and created_at < $1)",
            "delete from org_group_members where account_id in \
             (select account_id from accounts where kind = 'organisation' and email_verified = 0 and created_at < $1)",
            "delete from org_users where account_id in \
             (select account_id from accounts where kind = 'organisation' and email_verified = 0 and created_at < $1)",
            "delete from account_tokens where account_id in \
             (select account_id from accounts where kind = 'organisation' and email_verified = 0 and created_at < $1)",
        ] {
            sqlx::query(q).bind(before).execute(&mut *tx).await?;
        }
        let n = sqlx::query("delete from accounts where kind = 'organisation' and email_verified = 0 and created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Blocks the account (R-SES-6).
    pub async fn block_account(&self, account_id: &AccountId, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("update accounts set blocked_at = $1, updated_at = $1 where account_id = $2 and blocked_at is null")
            .bind(now)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves the account to a new login email; a taken email is a `Conflict`.
    pub async fn set_email(&self, account_id: &AccountId, email: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("update accounts set email = $1, email_verified = 1, updated_at = $2 where account_id = $3")
            .bind(email)
            .bind(now)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the account; consents, grants, refresh tokens and links go with it (foreign keys).
    pub async fn delete_account(&self, account_id: &AccountId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        self.keep_an_admin(&mut tx, account_id).await?;
        let n = delete_account_rows(&mut tx, account_id).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// R-ORG-5, inside `tx`: a `Conflict` when the account is an administrator and no other
    /// administrator of the organisation activated their access (an invitation never used is
    /// purged after 14 days). The organisation's row is locked, so two administrators leaving at
    /// once cannot both go (SQLite's write lock serialises anyway).
    pub(super) async fn keep_an_admin(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        account_id: &AccountId,
    ) -> Result<(), StoreError> {
        let admin_of = match self.backend {
            super::Backend::Postgres => {
                "select o.org_id from organisations o join org_users u on u.org_id = o.org_id \
                 where u.account_id = $1 and u.role = 'admin' for update of o"
            }
            super::Backend::Sqlite => {
                "select o.org_id from organisations o join org_users u on u.org_id = o.org_id \
                 where u.account_id = $1 and u.role = 'admin'"
            }
        };
        let Some(row) = sqlx::query(admin_of).bind(account_id).fetch_optional(&mut **tx).await? else {
            return Ok(());
        };
        let org_id: String = col(&row, "org_id", "organisations")?;
        let count = sqlx::query(
            "select count(*) as n from org_users u join accounts a on a.account_id = u.account_id \
             where u.org_id = $1 and u.role = 'admin' and a.email_verified = 1 and u.account_id <> $2",
        )
        .bind(&org_id)
        .bind(account_id)
        .fetch_one(&mut **tx)
        .await?;
        if col::<i64>(&count, "n", "org_users")? == 0 {
            return Err(StoreError::Conflict("the last administrator of an organisation".into()));
        }
        Ok(())
    }

    /// Whether the account is an administrator whose organisation would keep no other
    /// administrator with activated access.
    pub async fn is_last_admin(&self, account_id: &AccountId) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "select count(*) as n from org_users o join accounts a on a.account_id = o.account_id \
             where o.role = 'admin' and a.email_verified = 1 and o.account_id <> $1 and o.org_id = \
             (select u.org_id from org_users u where u.account_id = $1 and u.role = 'admin')",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        let admin = self
            .membership(account_id)
            .await?
            .is_some_and(|m| m.role == crate::model::org::OrgRole::Admin);
        Ok(admin && row.map(|r| col::<i64>(&r, "n", "org_users")).transpose()?.unwrap_or(0) == 0)
    }

    /// The account with this id.
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(concat!("select ", columns!(), " from accounts where account_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }
}

/// Deletes an account and every row that names it, inside `tx`; the number of accounts deleted.
/// Explicit deletes as well as the cascades, so nothing depends on the SQLite pragma.
pub(super) async fn delete_account_rows(tx: &mut sqlx::Transaction<'static, sqlx::Any>, account_id: &AccountId) -> Result<u64, StoreError> {
    for q in [
        "delete from refresh_tokens where grant_id in (select grant_id from grants where account_id = $1)",
        "delete from grants where account_id = $1",
        "delete from consents where account_id = $1",
        "delete from account_tokens where account_id = $1",
        "delete from verifications where account_id = $1",
        "delete from eid_links where account_id = $1",
        "delete from elster_links where account_id = $1",
        "delete from upgrade_requests where account_id = $1",
        "delete from org_user_services where account_id = $1",
        "delete from org_group_members where account_id = $1",
        "delete from org_users where account_id = $1",
    ] {
        sqlx::query(q).bind(account_id).execute(&mut **tx).await?;
    }
    Ok(sqlx::query("delete from accounts where account_id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}
