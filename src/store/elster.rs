//! ELSTER certificate links (R-ELS-1…3): which user's certificate, of which ELSTER
//! organisation. The certificate's account id is stored only as a keyed hash.

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::ids::{AccountId, OrgId};
use crate::model::org::{ElsterLink, Organisation};

impl Store {
    /// Links `account_id`'s certificate, replacing the one it had, in one transaction. With
    /// `first`, the organisation takes the data ELSTER released and its ELSTER id (R-ELS-1/2) —
    /// only if no other link set one meanwhile, else `Conflict`. A certificate linked to another
    /// account is a `Conflict` too; either leaves nothing changed.
    pub async fn link_elster(
        &self,
        account_id: &AccountId,
        (certificate_hash, elster_org_id): (&str, &str),
        first: Option<&Organisation>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(org) = first {
            let a = org.address.as_ref();
            let n = sqlx::query(
                "update organisations set name = $1, trade_register = $2, street = $3, house_number = $4, postal_code = $5, \
                 city = $6, elster_id = $7, updated_at = $8 where org_id = $9 and elster_id is null",
            )
            .bind(&org.name)
            .bind(org.trade_register.clone())
            .bind(a.map(|a| a.street.clone()))
            .bind(a.map(|a| a.house_number.clone()))
            .bind(a.map(|a| a.postal_code.clone()))
            .bind(a.map(|a| a.city.clone()))
            .bind(elster_org_id)
            .bind(now)
            .bind(&org.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict("the organisation is linked to ELSTER already".into()));
            }
        }
        sqlx::query("delete from elster_links where account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        link_insert(account_id, certificate_hash, elster_org_id, now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The organisation linked to ELSTER organisation `elster_id`.
    pub async fn organisation_by_elster_id(&self, elster_id: &str) -> Result<Option<OrgId>, StoreError> {
        let row = sqlx::query("select org_id from organisations where elster_id = $1")
            .bind(elster_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("org_id").map_err(StoreError::from)).transpose()
    }

    /// The certificate linked to an account.
    pub async fn elster_link(&self, account_id: &AccountId) -> Result<Option<ElsterLink>, StoreError> {
        let row = sqlx::query("select certificate_hash, elster_org_id, linked_at from elster_links where account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ElsterLink {
                certificate_hash: r.try_get("certificate_hash")?,
                elster_org_id: r.try_get("elster_org_id")?,
                linked_at: r.try_get("linked_at")?,
            })
        })
        .transpose()
    }

    /// The account a certificate is linked to.
    pub async fn account_by_certificate(&self, certificate_hash: &str) -> Result<Option<AccountId>, StoreError> {
        let row = sqlx::query("select account_id from elster_links where certificate_hash = $1")
            .bind(certificate_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("account_id").map_err(StoreError::from)).transpose()
    }

    /// Removes an account's certificate link (R-ELS-3); whether there was one.
    pub async fn delete_elster_link(&self, account_id: &AccountId) -> Result<bool, StoreError> {
        let n = sqlx::query("delete from elster_links where account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

/// The row of a certificate link, for a transaction of the caller's.
pub(super) fn link_insert<'q>(
    account_id: &'q AccountId,
    certificate_hash: &'q str,
    elster_org_id: &'q str,
    now: Timestamp,
) -> super::AnyQuery<'q> {
    sqlx::query("insert into elster_links (account_id, certificate_hash, elster_org_id, linked_at) values ($1, $2, $3, $4)")
        .bind(account_id)
        .bind(certificate_hash)
        .bind(elster_org_id)
        .bind(now)
}
