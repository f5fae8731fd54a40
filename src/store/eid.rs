//! Identity verifications and eID pseudonym links (Servicekonto Plus).

use sqlx::Row;

use super::{Store, StoreError, bind_address, col};
use crate::ids::AccountId;
use crate::model::account::{Account, EidLink, Verification};

impl Store {
    /// Makes the account Plus with verified data in one transaction: the locked fields, the
    /// level, the verification record and (when given) the pseudonym link.
    pub async fn save_verified_identity(&self, a: &Account, v: &Verification, link: Option<&str>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        bind_address(
            sqlx::query(
                "update accounts set level = $1, title = $2, given_name = $3, family_name = $4, birthdate = $5, street = $6, \
             house_number = $7, postal_code = $8, city = $9, country = $10, updated_at = $11 where account_id = $12",
            )
            .bind(a.level.name())
            .bind(a.title.clone())
            .bind(&a.given_name)
            .bind(&a.family_name)
            .bind(a.birthdate.clone()),
            a.address.as_ref(),
        )
        .bind(a.updated_at)
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into verifications (account_id, method, verified_at, birth_name, place_of_birth, nationality, document_type) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (account_id) do update set method = excluded.method, \
             verified_at = excluded.verified_at, birth_name = excluded.birth_name, place_of_birth = excluded.place_of_birth, \
             nationality = excluded.nationality, document_type = excluded.document_type",
        )
        .bind(&a.id)
        .bind(&v.method)
        .bind(v.verified_at)
        .bind(v.birth_name.clone())
        .bind(v.place_of_birth.clone())
        .bind(v.nationality.clone())
        .bind(v.document_type.clone())
        .execute(&mut *tx)
        .await?;
        if let Some(hash) = link {
            sqlx::query(
                "insert into eid_links (account_id, pseudonym_hash, login_enabled, linked_at) values ($1, $2, 1, $3) \
                 on conflict (account_id) do update set pseudonym_hash = excluded.pseudonym_hash, login_enabled = 1, \
                 linked_at = excluded.linked_at",
            )
            .bind(&a.id)
            .bind(hash)
            .bind(a.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The verification record of an account.
    pub async fn verification(&self, account_id: &AccountId) -> Result<Option<Verification>, StoreError> {
        let row = sqlx::query(
            "select method, verified_at, birth_name, place_of_birth, nationality, document_type from verifications where account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Verification {
                method: col(&r, "method", "verifications")?,
                verified_at: col(&r, "verified_at", "verifications")?,
                birth_name: col(&r, "birth_name", "verifications")?,
                place_of_birth: col(&r, "place_of_birth", "verifications")?,
                nationality: col(&r, "nationality", "verifications")?,
                document_type: col(&r, "document_type", "verifications")?,
            })
        })
        .transpose()
    }

    /// The eID link of an account.
    pub async fn eid_link(&self, account_id: &AccountId) -> Result<Option<EidLink>, StoreError> {
        let row = sqlx::query("select pseudonym_hash, login_enabled, linked_at from eid_links where account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(EidLink {
                pseudonym_hash: r.try_get("pseudonym_hash")?,
                login_enabled: r.try_get::<i64, _>("login_enabled")? != 0,
                linked_at: r.try_get("linked_at")?,
            })
        })
        .transpose()
    }

    /// The account linked to a pseudonym, with whether eID login is on.
    pub async fn account_by_pseudonym(&self, hash: &str) -> Result<Option<(AccountId, bool)>, StoreError> {
        let row = sqlx::query("select account_id, login_enabled from eid_links where pseudonym_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("account_id")?, r.try_get::<i64, _>("login_enabled")? != 0)))
            .transpose()
    }

    /// Switches eID login off (R-EID-3); on again only through a new sync.
    pub async fn disable_eid_login(&self, account_id: &AccountId) -> Result<(), StoreError> {
        sqlx::query("update eid_links set login_enabled = 0 where account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether eID login is on for the account.
    pub async fn eid_login_enabled(&self, account_id: &AccountId) -> Result<bool, StoreError> {
        Ok(self.eid_link(account_id).await?.is_some_and(|l| l.login_enabled))
    }
}
