//! Grants (one per code redemption: who authorised which client for what), their refresh
//! tokens (stored as SHA-256, rotated on every use), and revoked access-token ids.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, col};
use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId, GrantId, SessionId};
use crate::model::grant::{FederatedLogin, Grant};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::scope::Scopes;
use crate::trust::Acr;

const T: &str = "grants";
macro_rules! columns {
    () => {
        "grant_id, account_id, client_id, scope, claims, acr, amr, auth_time, sid, created_at, expires_at, revoked_at, withheld"
    };
}

fn from_row(row: &AnyRow) -> Result<Grant, StoreError> {
    let claims: Option<String> = col(row, "claims", T)?;
    Ok(Grant {
        id: col(row, "grant_id", T)?,
        account_id: col(row, "account_id", T)?,
        client_id: col(row, "client_id", T)?,
        scope: Scopes::parse(&col::<String>(row, "scope", T)?).map_err(|_| StoreError::Corrupt(T))?,
        claims: match claims {
            Some(c) => serde_json::from_str(&c).map_err(|_| StoreError::Corrupt(T))?,
            None => ClaimsRequest::default(),
        },
        acr: Acr::parse(&col::<String>(row, "acr", T)?).ok_or(StoreError::Corrupt(T))?,
        amr: serde_json::from_str(&col::<String>(row, "amr", T)?).map_err(|_| StoreError::Corrupt(T))?,
        auth_time: col(row, "auth_time", T)?,
        sid: col(row, "sid", T)?,
        created_at: col(row, "created_at", T)?,
        expires_at: col(row, "expires_at", T)?,
        revoked_at: col(row, "revoked_at", T)?,
        withheld: match col::<Option<String>>(row, "withheld", T)? {
            Some(w) => serde_json::from_str(&w).map_err(|_| StoreError::Corrupt(T))?,
            None => Vec::new(),
        },
    })
}

/// What became of a refresh-token rotation.
#[derive(Debug)]
pub enum RotateOutcome {
    /// The old token is spent, the new one stored; here is the grant.
    Rotated(Box<Grant>),
    /// The token had been used before: the whole grant is now revoked (committed).
    Reused,
    /// Unknown, expired, or its grant revoked.
    Invalid,
}

async fn insert_refresh(
    tx: &mut Transaction<'_, Any>,
    hash: &str,
    grant_id: &GrantId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("insert into refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) values ($1, $2, $3, $4, null)")
        .bind(hash)
        .bind(grant_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn revoke_in(tx: &mut Transaction<'_, Any>, grant_id: &GrantId, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query("update grants set revoked_at = $1 where grant_id = $2 and revoked_at is null")
        .bind(now)
        .bind(grant_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("delete from refresh_tokens where grant_id = $1 and used_at is null")
        .bind(grant_id)
        .execute(&mut **tx)
        .await?;
    // A login through another Land has no grant row; its record goes instead (R-FED-3).
    sqlx::query("delete from federated_logins where login_id = $1")
        .bind(grant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Stores a new grant and, if given, its first refresh token, in one transaction.
    pub async fn insert_grant(&self, g: &Grant, refresh_hash: Option<&str>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let claims = if g.claims.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&g.claims).map_err(|_| StoreError::Corrupt(T))?)
        };
        sqlx::query(concat!(
            "insert into grants (",
            columns!(),
            ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, null, $12)"
        ))
        .bind(&g.id)
        .bind(&g.account_id)
        .bind(&g.client_id)
        .bind(g.scope.to_string())
        .bind(claims)
        .bind(g.acr.as_str())
        .bind(serde_json::to_string(&g.amr).map_err(|_| StoreError::Corrupt(T))?)
        .bind(g.auth_time)
        .bind(&g.sid)
        .bind(g.created_at)
        .bind(g.expires_at)
        .bind(if g.withheld.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&g.withheld).map_err(|_| StoreError::Corrupt(T))?)
        })
        .execute(&mut *tx)
        .await?;
        if let Some(hash) = refresh_hash {
            insert_refresh(&mut tx, hash, &g.id, g.created_at, g.expires_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The grant with this id.
    pub async fn grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(concat!("select ", columns!(), " from grants where grant_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Revokes a grant: its access tokens stop working and its refresh tokens are deleted.
    pub async fn revoke_grant(&self, id: &GrantId, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        revoke_in(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends refresh token `old` and stores `new` in its place, atomically: of concurrent
    /// callers exactly one rotates; a token presented a second time revokes the whole chain.
    /// Only tokens of `client_id`'s grants count; another client's token is `Invalid`.
    pub async fn rotate_refresh(&self, old: &str, new: &str, client_id: &ClientId, now: Timestamp) -> Result<RotateOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let spent = sqlx::query(
            "update refresh_tokens set used_at = $1 where token_hash = $2 and used_at is null and expires_at > $1 \
             and grant_id in (select grant_id from grants where client_id = $3) returning grant_id",
        )
        .bind(now)
        .bind(old)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(spent) = spent else {
            let previous = sqlx::query(
                "select r.grant_id, r.used_at from refresh_tokens r join grants g on g.grant_id = r.grant_id where r.token_hash = $1 and g.client_id = $2",
            )
            .bind(old)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
            let outcome = match previous {
                Some(row) if row.try_get::<Option<i64>, _>("used_at")?.is_some() => {
                    let grant_id: GrantId = row.try_get("grant_id")?;
                    revoke_in(&mut tx, &grant_id, now).await?;
                    RotateOutcome::Reused
                }
                _ => RotateOutcome::Invalid,
            };
            tx.commit().await?;
            return Ok(outcome);
        };
        let grant_id: GrantId = spent.try_get("grant_id")?;
        let row = sqlx::query(concat!("select ", columns!(), " from grants where grant_id = $1"))
            .bind(&grant_id)
            .fetch_optional(&mut *tx)
            .await?;
        let grant = match row.as_ref().map(from_row).transpose()? {
            Some(g) if g.revoked_at.is_none() => g,
            _ => {
                tx.commit().await?;
                return Ok(RotateOutcome::Invalid);
            }
        };
        insert_refresh(&mut tx, new, &grant.id, now, grant.expires_at).await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(Box::new(grant)))
    }

    /// The grant a live refresh token belongs to.
    pub async fn refresh_token_grant(&self, hash: &str, now: Timestamp) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            columns!(),
            " from grants where grant_id = (select grant_id from refresh_tokens where token_hash = $1 and used_at is null and expires_at > $2)"
        ))
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Marks an access token's `jti` revoked until the token would have expired anyway.
    pub async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("insert into revoked_access_tokens (jti, expires_at) values ($1, $2) on conflict (jti) do nothing")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the access token `jti` was revoked.
    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("select jti from revoked_access_tokens where jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Revokes every live grant of an account, or only those for one client: access tokens stop
    /// working at userinfo and introspection, refresh tokens are deleted.
    pub async fn revoke_account_grants(
        &self,
        account_id: &AccountId,
        client_id: Option<&ClientId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<GrantId> =
            sqlx::query("select grant_id from grants where account_id = $1 and revoked_at is null and ($2 is null or client_id = $2)")
                .bind(account_id)
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get::<GrantId, _>("grant_id"))
                .collect::<Result<_, _>>()?;
        for id in &ids {
            revoke_in(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// The (client, session id) pairs with a live grant of the account, from session `sid` only
    /// when given: the services that relied on those sessions (Back-Channel Logout).
    pub async fn grant_sessions(
        &self,
        account_id: &AccountId,
        sid: Option<&SessionId>,
        now: Timestamp,
    ) -> Result<Vec<(ClientId, SessionId)>, StoreError> {
        let rows = sqlx::query(
            "select distinct client_id, sid from grants where account_id = $1 and ($2 is null or sid = $2) and expires_at >= $3 \
             order by client_id, sid",
        )
        .bind(account_id)
        .bind(sid)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("client_id")?, r.try_get("sid")?))).collect()
    }

    /// Deletes what has expired: revoked-token ids, spent or expired refresh tokens, dead grants,
    /// federated logins, and every grant of a federation partner older than
    /// `partner_retention` seconds (R-FED-4: per-transaction data at most 7 days).
    pub async fn purge_expired(&self, now: Timestamp, partner_retention: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for (q, at) in [
            ("delete from revoked_access_tokens where expires_at < $1", now),
            ("delete from refresh_tokens where expires_at < $1", now),
            ("delete from grants where expires_at < $1", now),
            ("delete from federated_logins where expires_at < $1", now),
            (
                "delete from grants where created_at < $1 and client_id in (select client_id from clients where federation_partner = 1)",
                now - partner_retention,
            ),
        ] {
            n += sqlx::query(q).bind(at).execute(&self.pool).await?.rows_affected();
        }
        Ok(n)
    }

    /// Stores what a login through another Land released to a service, until `expires_at`.
    pub async fn insert_federated_login(&self, f: &FederatedLogin) -> Result<(), StoreError> {
        sqlx::query(
            "insert into federated_logins (login_id, client_id, upstream, sub, claims, acr, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&f.id)
        .bind(&f.client_id)
        .bind(&f.upstream)
        .bind(&f.sub)
        .bind(serde_json::to_string(&f.claims).map_err(|_| StoreError::Corrupt("federated_logins"))?)
        .bind(f.acr.as_str())
        .bind(f.created_at)
        .bind(f.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The federated login with this id, unless it has expired.
    pub async fn federated_login(&self, id: &str, now: Timestamp) -> Result<Option<FederatedLogin>, StoreError> {
        const F: &str = "federated_logins";
        let row = sqlx::query(
            "select login_id, client_id, upstream, sub, claims, acr, created_at, expires_at from federated_logins \
             where login_id = $1 and expires_at >= $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(FederatedLogin {
                id: col(&r, "login_id", F)?,
                client_id: col(&r, "client_id", F)?,
                upstream: col(&r, "upstream", F)?,
                sub: col(&r, "sub", F)?,
                claims: serde_json::from_str(&col::<String>(&r, "claims", F)?).map_err(|_| StoreError::Corrupt(F))?,
                acr: Acr::parse(&col::<String>(&r, "acr", F)?).ok_or(StoreError::Corrupt(F))?,
                created_at: col(&r, "created_at", F)?,
                expires_at: col(&r, "expires_at", F)?,
            })
        })
        .transpose()
    }
}
