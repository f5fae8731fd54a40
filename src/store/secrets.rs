//! What the database knows about server secrets: fingerprints of the versions in use (never the
//! values, R-SEC-7), values left from before secrets came from configuration, and one-time claims.

use sqlx::Row;

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::secret::b64_decode;

impl Store {
    /// Claims `name` once across all nodes: `true` for the single caller that got it.
    pub async fn claim_once(&self, name: &str, now: Timestamp) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "insert into server_secrets (name, value, created_at) values ($1, '', $2) on conflict (name) do nothing returning name",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// A secret's value as releases before R-SEC-7 kept it in the database, if it is still there.
    pub async fn legacy_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("select value from server_secrets where name = $1 and value <> ''")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(
                b64_decode(&row.try_get::<String, _>("value")?).ok_or(StoreError::Corrupt("server_secrets"))?,
            )),
            None => Ok(None),
        }
    }

    /// Removes a legacy value once configuration holds it.
    pub async fn drop_legacy_secret(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("delete from server_secrets where name = $1 and value <> ''")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The versions of secret `name` this installation has used, with their fingerprints, oldest
    /// first.
    pub async fn secret_versions(&self, name: &str) -> Result<Vec<(u32, String)>, StoreError> {
        let rows = sqlx::query("select version, fingerprint from secret_versions where name = $1 order by version")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let v: i64 = r.try_get("version")?;
                Ok((
                    u32::try_from(v).map_err(|_| StoreError::Corrupt("secret_versions"))?,
                    r.try_get("fingerprint")?,
                ))
            })
            .collect()
    }

    /// Records a version's fingerprint unless one is recorded; returns the recorded one, so of two
    /// nodes racing with different values the second learns it lost.
    pub async fn record_secret_version(&self, name: &str, version: u32, fingerprint: &str, now: Timestamp) -> Result<String, StoreError> {
        sqlx::query(
            "insert into secret_versions (name, version, fingerprint, created_at) values ($1, $2, $3, $4) on conflict (name, version) do nothing",
        )
        .bind(name)
        .bind(i64::from(version))
        .bind(fingerprint)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("select fingerprint from secret_versions where name = $1 and version = $2")
            .bind(name)
            .bind(i64::from(version))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("fingerprint")?)
    }

    /// The versions of `name` that stored data still needs: client-secret hashes tagged with a
    /// pepper version, clients deriving subjects with a pairwise-key version, eID links, sealed
    /// staff TOTP seeds.
    /// CSRF tokens live only as long as a form, so no CSRF version is ever needed.
    pub async fn secret_versions_in_use(&self, name: &str) -> Result<Vec<u32>, StoreError> {
        let versions = match name {
            "client_secret_pepper" => {
                self.tag_versions("select secret_hash as tag from clients where secret_hash is not null")
                    .await?
            }
            "pairwise_subject_key" => {
                let rows = sqlx::query("select distinct subject_key_version as v from clients")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| r.try_get::<i64, _>("v").map(|v| u32::try_from(v).unwrap_or(0)))
                    .collect::<Result<Vec<_>, _>>()?
            }
            "staff_totp_key" => {
                self.tag_versions("select totp_secret as tag from staff where totp_secret is not null")
                    .await?
            }
            // A card's link is only its hash under this key: every version ever used stays needed.
            "eid_pseudonym_key" => self.secret_versions(name).await?.into_iter().map(|(v, _)| v).collect(),
            _ => Vec::new(),
        };
        Ok(versions)
    }

    /// The distinct key versions of the tagged or sealed values (`VERSION.…`) that `sql` selects
    /// as `tag`.
    async fn tag_versions(&self, sql: &'static str) -> Result<Vec<u32>, StoreError> {
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut versions = std::collections::BTreeSet::new();
        for row in &rows {
            if let Some(v) = crate::secret::KeyRing::version_of(&row.try_get::<String, _>("tag")?) {
                versions.insert(v);
            }
        }
        Ok(versions.into_iter().collect())
    }
}
