//! Clients table. List-valued fields are JSON text.

use sqlx::any::AnyRow;

use super::{Store, StoreError, col};
use crate::ids::ClientId;
use crate::model::client::{Client, stored};
use crate::protocol::scope::Scopes;
use crate::trust::TrustLevel;

const T: &str = "clients";
macro_rules! columns {
    () => {
        "client_id, name, secret_hash, auth_method, redirect_uris, post_logout_redirect_uris, grant_types, scopes, min_level, jwks_uri, subject_type, created_at, backchannel_logout_uri, allow_interop, federation_partner, subject_key_version, account_kind, requires_approval, roles, description, cost_note"
    };
}

fn json_list(row: &AnyRow, name: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&col::<String>(row, name, T)?).map_err(|_| StoreError::Corrupt(T))
}

fn from_row(row: &AnyRow) -> Result<Client, StoreError> {
    Ok(Client {
        id: col(row, "client_id", T)?,
        name: col(row, "name", T)?,
        secret_hash: col(row, "secret_hash", T)?,
        auth_method: stored::auth_method(&col::<String>(row, "auth_method", T)?).ok_or(StoreError::Corrupt(T))?,
        redirect_uris: json_list(row, "redirect_uris")?,
        post_logout_redirect_uris: json_list(row, "post_logout_redirect_uris")?,
        grant_types: stored::grant_types(&col::<String>(row, "grant_types", T)?).ok_or(StoreError::Corrupt(T))?,
        scopes: Scopes::parse(&col::<String>(row, "scopes", T)?).map_err(|_| StoreError::Corrupt(T))?,
        min_level: TrustLevel::parse(&col::<String>(row, "min_level", T)?).ok_or(StoreError::Corrupt(T))?,
        jwks_uri: col(row, "jwks_uri", T)?,
        subject_type: stored::subject_type(&col::<String>(row, "subject_type", T)?).ok_or(StoreError::Corrupt(T))?,
        created_at: col(row, "created_at", T)?,
        backchannel_logout_uri: col(row, "backchannel_logout_uri", T)?,
        allow_interop: col::<i64>(row, "allow_interop", T)? != 0,
        federation_partner: col::<i64>(row, "federation_partner", T)? != 0,
        subject_key_version: u32::try_from(col::<i64>(row, "subject_key_version", T)?).map_err(|_| StoreError::Corrupt(T))?,
        admits: stored::admits(&col::<String>(row, "account_kind", T)?).ok_or(StoreError::Corrupt(T))?,
        requires_approval: col::<i64>(row, "requires_approval", T)? != 0,
        roles: json_list(row, "roles")?,
        description: col(row, "description", T)?,
        cost_note: col(row, "cost_note", T)?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt(T))
}

impl Store {
    /// Inserts a client; a taken id is a `Conflict`.
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "insert into clients (",
            columns!(),
            ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        ))
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.secret_hash.clone())
        .bind(c.auth_method.as_str())
        .bind(to_json(&c.redirect_uris)?)
        .bind(to_json(&c.post_logout_redirect_uris)?)
        .bind(to_json(&c.grant_types)?)
        .bind(c.scopes.to_string())
        .bind(c.min_level.name())
        .bind(c.jwks_uri.clone())
        .bind(c.subject_type.as_str())
        .bind(c.created_at)
        .bind(c.backchannel_logout_uri.clone())
        .bind(i64::from(c.allow_interop))
        .bind(i64::from(c.federation_partner))
        .bind(i64::from(c.subject_key_version))
        .bind(c.admits.as_str())
        .bind(i64::from(c.requires_approval))
        .bind(to_json(&c.roles)?)
        .bind(c.description.clone())
        .bind(c.cost_note.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces a client's secret hash, only if it is still `stored` (another node may have
    /// replaced it already).
    pub async fn replace_client_secret_hash(&self, id: &ClientId, stored: &str, renewed: &str) -> Result<(), StoreError> {
        sqlx::query("update clients set secret_hash = $1 where client_id = $2 and secret_hash = $3")
            .bind(renewed)
            .bind(id)
            .bind(stored)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The client with this id.
    pub async fn client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(concat!("select ", columns!(), " from clients where client_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// All clients, by id.
    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(concat!("select ", columns!(), " from clients order by client_id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Removes a client with its consents and grants; `false` when there was none.
    pub async fn remove_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        for q in [
            "delete from refresh_tokens where grant_id in (select grant_id from grants where client_id = $1)",
            "delete from grants where client_id = $1",
            "delete from consents where client_id = $1",
            "delete from org_user_services where client_id = $1",
            "delete from org_group_services where client_id = $1",
            "delete from org_services where client_id = $1",
        ] {
            sqlx::query(q).bind(id).execute(&mut *tx).await?;
        }
        let n = sqlx::query("delete from clients where client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
