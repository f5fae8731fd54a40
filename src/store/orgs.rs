//! Organisations, their users' memberships, subscriptions, groups and grants (PRODUCT §7).
//! Role lists are JSON text.

use sqlx::any::AnyRow;

use super::accounts::account_insert;
use super::{Store, StoreError, col};
use crate::ids::{AccountId, ClientId, GroupId, OrgId};
use crate::model::account::Account;
use crate::model::org::{AccessRows, Group, Membership, OrgAddress, OrgRole, Organisation, Subscription, SubscriptionState};

const T: &str = "organisations";
macro_rules! org_columns {
    () => {
        "org_id, name, trade_register, street, house_number, postal_code, city, po_box, admins_use_services, elster_id, created_at, updated_at"
    };
}

fn org_from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    let street: Option<String> = col(row, "street", T)?;
    let address = match street {
        Some(street) => Some(OrgAddress {
            street,
            house_number: col::<Option<String>>(row, "house_number", T)?.ok_or(StoreError::Corrupt(T))?,
            postal_code: col::<Option<String>>(row, "postal_code", T)?.ok_or(StoreError::Corrupt(T))?,
            city: col::<Option<String>>(row, "city", T)?.ok_or(StoreError::Corrupt(T))?,
        }),
        None => None,
    };
    Ok(Organisation {
        id: col(row, "org_id", T)?,
        name: col(row, "name", T)?,
        trade_register: col(row, "trade_register", T)?,
        address,
        po_box: col(row, "po_box", T)?,
        admins_use_services: col::<i64>(row, "admins_use_services", T)? != 0,
        elster_id: col(row, "elster_id", T)?,
        created_at: col(row, "created_at", T)?,
        updated_at: col(row, "updated_at", T)?,
    })
}

fn roles_from(text: &str, table: &'static str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(table))
}

fn roles_json(roles: &[String]) -> String {
    serde_json::Value::from(roles.to_vec()).to_string()
}

fn subscription_from_row(row: &AnyRow) -> Result<Subscription, StoreError> {
    const S: &str = "org_services";
    Ok(Subscription {
        org_id: col(row, "org_id", S)?,
        client_id: col(row, "client_id", S)?,
        state: SubscriptionState::parse(&col::<String>(row, "state", S)?).ok_or(StoreError::Corrupt(S))?,
        requested_at: col(row, "requested_at", S)?,
        decided_at: col(row, "decided_at", S)?,
    })
}

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    const G: &str = "org_groups";
    Ok(Group {
        id: col(row, "group_id", G)?,
        org_id: col(row, "org_id", G)?,
        name: col(row, "name", G)?,
        description: col(row, "description", G)?,
        created_at: col(row, "created_at", G)?,
    })
}

impl Store {
    /// Inserts an organisation with its first user (its administrator) and, for one registered
    /// with ELSTER, the administrator's certificate (hash), in one transaction; a taken email,
    /// ELSTER organisation or certificate is a `Conflict` and leaves nothing behind.
    pub async fn insert_organisation(&self, org: &Organisation, admin: &Account, certificate: Option<&str>) -> Result<(), StoreError> {
        let a = org.address.as_ref();
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "insert into organisations (",
            org_columns!(),
            ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.trade_register.clone())
        .bind(a.map(|a| a.street.clone()))
        .bind(a.map(|a| a.house_number.clone()))
        .bind(a.map(|a| a.postal_code.clone()))
        .bind(a.map(|a| a.city.clone()))
        .bind(org.po_box.clone())
        .bind(i64::from(org.admins_use_services))
        .bind(org.elster_id.clone())
        .bind(org.created_at)
        .bind(org.updated_at)
        .execute(&mut *tx)
        .await?;
        account_insert(admin).execute(&mut *tx).await?;
        membership_insert(&admin.id, &org.id, OrgRole::Admin).execute(&mut *tx).await?;
        if let (Some(hash), Some(elster_id)) = (certificate, &org.elster_id) {
            super::elster::link_insert(&admin.id, hash, elster_id, org.created_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inserts a user of an existing organisation with their membership, in one transaction.
    pub async fn insert_org_user(&self, account: &Account, org_id: &OrgId, role: OrgRole) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        account_insert(account).execute(&mut *tx).await?;
        membership_insert(&account.id, org_id, role).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The organisation with this id.
    pub async fn organisation(&self, id: &OrgId) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(concat!("select ", org_columns!(), " from organisations where org_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    /// Switches whether administrators may use services (R-ORG-8).
    pub async fn set_admins_use_services(&self, id: &OrgId, on: bool, now: crate::clock::Timestamp) -> Result<bool, StoreError> {
        let n = sqlx::query("update organisations set admins_use_services = $1, updated_at = $2 where org_id = $3")
            .bind(i64::from(on))
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// The organisation an account belongs to, with its role there.
    pub async fn membership(&self, account_id: &AccountId) -> Result<Option<Membership>, StoreError> {
        let row = sqlx::query("select account_id, org_id, role from org_users where account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Membership {
                account_id: col(&r, "account_id", "org_users")?,
                org_id: col(&r, "org_id", "org_users")?,
                role: OrgRole::parse(&col::<String>(&r, "role", "org_users")?).ok_or(StoreError::Corrupt("org_users"))?,
            })
        })
        .transpose()
    }

    /// Everything the token path needs to decide what `account_id` may do at `client_id`, in
    /// one round trip: `None` unless the account belongs to an organisation.
    pub async fn org_access(&self, account_id: &AccountId, client_id: &ClientId) -> Result<Option<AccessRows>, StoreError> {
        const A: &str = "org_users";
        let rows = sqlx::query(
            "select o.org_id, o.name, o.admins_use_services, u.role, s.state, g.roles \
             from org_users u \
             join organisations o on o.org_id = u.org_id \
             left join org_services s on s.org_id = u.org_id and s.client_id = $2 \
             left join ( \
               select d.account_id, d.roles from org_user_services d where d.account_id = $1 and d.client_id = $2 \
               union all \
               select m.account_id, gs.roles from org_group_members m \
                 join org_group_services gs on gs.group_id = m.group_id \
                 where m.account_id = $1 and gs.client_id = $2 \
             ) g on g.account_id = u.account_id \
             where u.account_id = $1",
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut grants = Vec::new();
        for row in &rows {
            if let Some(roles) = col::<Option<String>>(row, "roles", A)? {
                grants.push(roles_from(&roles, A)?);
            }
        }
        Ok(Some(AccessRows {
            org_id: col(first, "org_id", A)?,
            org_name: col(first, "name", A)?,
            admins_use_services: col::<i64>(first, "admins_use_services", A)? != 0,
            role: OrgRole::parse(&col::<String>(first, "role", A)?).ok_or(StoreError::Corrupt(A))?,
            subscription: col::<Option<String>>(first, "state", A)?
                .map(|s| SubscriptionState::parse(&s).ok_or(StoreError::Corrupt(A)))
                .transpose()?,
            grants,
        }))
    }

    /// Inserts a subscription; one that exists is a `Conflict`.
    pub async fn insert_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        sqlx::query("insert into org_services (org_id, client_id, state, requested_at, decided_at) values ($1, $2, $3, $4, $5)")
            .bind(&s.org_id)
            .bind(&s.client_id)
            .bind(s.state.as_str())
            .bind(s.requested_at)
            .bind(s.decided_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An organisation's subscription to a service.
    pub async fn subscription(&self, org_id: &OrgId, client_id: &ClientId) -> Result<Option<Subscription>, StoreError> {
        let row =
            sqlx::query("select org_id, client_id, state, requested_at, decided_at from org_services where org_id = $1 and client_id = $2")
                .bind(org_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    /// An organisation's subscriptions, by service.
    pub async fn subscriptions(&self, org_id: &OrgId) -> Result<Vec<Subscription>, StoreError> {
        let rows =
            sqlx::query("select org_id, client_id, state, requested_at, decided_at from org_services where org_id = $1 order by client_id")
                .bind(org_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(subscription_from_row).collect()
    }

    /// Every subscription waiting for the Fachliche Leitstelle with its organisation, oldest
    /// first, in one query.
    pub async fn pending_subscriptions(&self) -> Result<Vec<(Subscription, Organisation)>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            org_columns!(),
            ", client_id, state, requested_at, decided_at from org_services join organisations using (org_id) \
             where state = 'pending' order by requested_at, org_id, client_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((subscription_from_row(r)?, org_from_row(r)?))).collect()
    }

    /// Releases a pending subscription (the Fachliche Leitstelle's approval); `false` when it
    /// was not pending.
    pub async fn release_subscription(
        &self,
        org_id: &OrgId,
        client_id: &ClientId,
        now: crate::clock::Timestamp,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "update org_services set state = 'released', decided_at = $1 where org_id = $2 and client_id = $3 and state = 'pending'",
        )
        .bind(now)
        .bind(org_id)
        .bind(client_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Ends a subscription with every grant of the service in the organisation, direct and
    /// through groups; `false` when there was none.
    pub async fn remove_subscription(&self, org_id: &OrgId, client_id: &ClientId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        for q in [
            "delete from org_user_services where client_id = $2 and account_id in (select account_id from org_users where org_id = $1)",
            "delete from org_group_services where client_id = $2 and group_id in (select group_id from org_groups where org_id = $1)",
        ] {
            sqlx::query(q).bind(org_id).bind(client_id).execute(&mut *tx).await?;
        }
        let n = sqlx::query("delete from org_services where org_id = $1 and client_id = $2")
            .bind(org_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Grants a service to a user directly, replacing the roles of an earlier direct grant.
    pub async fn put_user_service(&self, account_id: &AccountId, client_id: &ClientId, roles: &[String]) -> Result<(), StoreError> {
        sqlx::query(
            "insert into org_user_services (account_id, client_id, roles) values ($1, $2, $3) \
             on conflict (account_id, client_id) do update set roles = excluded.roles",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(roles_json(roles))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Withdraws a direct grant; `false` when there was none.
    pub async fn remove_user_service(&self, account_id: &AccountId, client_id: &ClientId) -> Result<bool, StoreError> {
        let n = sqlx::query("delete from org_user_services where account_id = $1 and client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Inserts a group.
    pub async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
        sqlx::query("insert into org_groups (group_id, org_id, name, description, created_at) values ($1, $2, $3, $4, $5)")
            .bind(&g.id)
            .bind(&g.org_id)
            .bind(&g.name)
            .bind(g.description.clone())
            .bind(g.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The group with this id.
    pub async fn group(&self, id: &GroupId) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query("select group_id, org_id, name, description, created_at from org_groups where group_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// Deletes a group with its memberships and services (so exactly what came through it
    /// goes, R-ORG-9); `false` when there was none.
    pub async fn delete_group(&self, id: &GroupId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        for q in [
            "delete from org_group_members where group_id = $1",
            "delete from org_group_services where group_id = $1",
        ] {
            sqlx::query(q).bind(id).execute(&mut *tx).await?;
        }
        let n = sqlx::query("delete from org_groups where group_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Makes a user a member of a group (again: no change).
    pub async fn put_group_member(&self, group_id: &GroupId, account_id: &AccountId) -> Result<(), StoreError> {
        sqlx::query("insert into org_group_members (group_id, account_id) values ($1, $2) on conflict do nothing")
            .bind(group_id)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes a user from a group; `false` when they were not a member.
    pub async fn remove_group_member(&self, group_id: &GroupId, account_id: &AccountId) -> Result<bool, StoreError> {
        let n = sqlx::query("delete from org_group_members where group_id = $1 and account_id = $2")
            .bind(group_id)
            .bind(account_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Grants a service to a group, replacing the roles of an earlier grant.
    pub async fn put_group_service(&self, group_id: &GroupId, client_id: &ClientId, roles: &[String]) -> Result<(), StoreError> {
        sqlx::query(
            "insert into org_group_services (group_id, client_id, roles) values ($1, $2, $3) \
             on conflict (group_id, client_id) do update set roles = excluded.roles",
        )
        .bind(group_id)
        .bind(client_id)
        .bind(roles_json(roles))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Withdraws a service from a group; `false` when it had none.
    pub async fn remove_group_service(&self, group_id: &GroupId, client_id: &ClientId) -> Result<bool, StoreError> {
        let n = sqlx::query("delete from org_group_services where group_id = $1 and client_id = $2")
            .bind(group_id)
            .bind(client_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

/// The columns of an organisation's user: the account's and the role.
macro_rules! org_user_select {
    () => {
        "select a.account_id, a.email, a.password_hash, a.kind, a.level, a.given_name, a.family_name, a.birthdate, a.street, \
         a.house_number, a.postal_code, a.city, a.country, a.phone_number, a.email_verified, a.created_at, a.updated_at, a.title, \
         a.blocked_at, a.delivery_consent_at, u.role from accounts a join org_users u on u.account_id = a.account_id"
    };
}

fn org_user_from_row(row: &AnyRow) -> Result<(Account, OrgRole), StoreError> {
    let account = super::accounts::from_row(row)?;
    let role = OrgRole::parse(&col::<String>(row, "role", "org_users")?).ok_or(StoreError::Corrupt("org_users"))?;
    Ok((account, role))
}

fn grants_from_rows(rows: &[AnyRow], table: &'static str) -> Result<Vec<(ClientId, Vec<String>)>, StoreError> {
    rows.iter()
        .map(|r| Ok((col(r, "client_id", table)?, roles_from(&col::<String>(r, "roles", table)?, table)?)))
        .collect()
}

impl Store {
    /// A page of an organisation's users, by account id, after `after` (`""` for the first).
    pub async fn org_users(&self, org_id: &OrgId, after: &str, limit: u32) -> Result<Vec<(Account, OrgRole)>, StoreError> {
        const Q: &str = concat!(
            org_user_select!(),
            " where u.org_id = $1 and a.account_id > $2 order by a.account_id limit $3"
        );
        let rows = sqlx::query(Q)
            .bind(org_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org_user_from_row).collect()
    }

    /// One user of an organisation with their role; `None` for anyone else.
    pub async fn org_user(&self, org_id: &OrgId, account_id: &AccountId) -> Result<Option<(Account, OrgRole)>, StoreError> {
        const Q: &str = concat!(org_user_select!(), " where u.org_id = $1 and a.account_id = $2");
        let row = sqlx::query(Q).bind(org_id).bind(account_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(org_user_from_row).transpose()
    }

    /// The services granted to a user directly, with their roles, by service.
    pub async fn user_services(&self, account_id: &AccountId) -> Result<Vec<(ClientId, Vec<String>)>, StoreError> {
        let rows = sqlx::query("select client_id, roles from org_user_services where account_id = $1 order by client_id")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        grants_from_rows(&rows, "org_user_services")
    }

    /// A group's members, by account id.
    pub async fn group_members(&self, group_id: &GroupId) -> Result<Vec<AccountId>, StoreError> {
        let rows = sqlx::query("select account_id from org_group_members where group_id = $1 order by account_id")
            .bind(group_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| col(r, "account_id", "org_group_members")).collect()
    }

    /// A group's services with their roles, by service.
    pub async fn group_services(&self, group_id: &GroupId) -> Result<Vec<(ClientId, Vec<String>)>, StoreError> {
        let rows = sqlx::query("select client_id, roles from org_group_services where group_id = $1 order by client_id")
            .bind(group_id)
            .fetch_all(&self.pool)
            .await?;
        grants_from_rows(&rows, "org_group_services")
    }

    /// A page of an organisation's groups, by id, after `after` (`""` for the first).
    pub async fn groups_page(&self, org_id: &OrgId, after: &str, limit: u32) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(
            "select group_id, org_id, name, description, created_at from org_groups \
             where org_id = $1 and group_id > $2 order by group_id limit $3",
        )
        .bind(org_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(group_from_row).collect()
    }

    /// Replaces a group's name and description.
    pub async fn update_group(&self, g: &Group) -> Result<(), StoreError> {
        sqlx::query("update org_groups set name = $1, description = $2 where group_id = $3")
            .bind(&g.name)
            .bind(g.description.clone())
            .bind(&g.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces an organisation user's names and phone number and sets their role; taking the
    /// role from the last activated administrator is a `Conflict` (R-ORG-5).
    pub async fn update_org_user(&self, account: &Account, role: OrgRole) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if role != OrgRole::Admin {
            self.keep_an_admin(&mut tx, &account.id).await?;
        }
        sqlx::query("update accounts set given_name = $1, family_name = $2, phone_number = $3, updated_at = $4 where account_id = $5")
            .bind(&account.given_name)
            .bind(&account.family_name)
            .bind(account.phone_number.clone())
            .bind(account.updated_at)
            .bind(&account.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update org_users set role = $1 where account_id = $2")
            .bind(role.as_str())
            .bind(&account.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves an invitation not yet used to another address; a taken email is a `Conflict`.
    pub async fn set_invited_email(&self, account_id: &AccountId, email: &str, now: crate::clock::Timestamp) -> Result<(), StoreError> {
        sqlx::query("update accounts set email = $1, updated_at = $2 where account_id = $3 and email_verified = 0")
            .bind(email)
            .bind(now)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes an organisation with all its users, groups, subscriptions and grants, in one
    /// transaction (R-ORG-11).
    pub async fn delete_organisation(&self, org_id: &OrgId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("select account_id from org_users where org_id = $1")
            .bind(org_id)
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            let id: AccountId = col(row, "account_id", "org_users")?;
            super::accounts::delete_account_rows(&mut tx, &id).await?;
        }
        for q in [
            "delete from org_group_members where group_id in (select group_id from org_groups where org_id = $1)",
            "delete from org_group_services where group_id in (select group_id from org_groups where org_id = $1)",
            "delete from org_groups where org_id = $1",
            "delete from org_services where org_id = $1",
            "delete from organisations where org_id = $1",
        ] {
            sqlx::query(q).bind(org_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an organisation's data (not its id, ELSTER link or creation time).
    pub async fn update_organisation(&self, org: &Organisation) -> Result<(), StoreError> {
        let a = org.address.as_ref();
        sqlx::query(
            "update organisations set name = $1, trade_register = $2, street = $3, house_number = $4, postal_code = $5, \
             city = $6, po_box = $7, admins_use_services = $8, updated_at = $9 where org_id = $10",
        )
        .bind(&org.name)
        .bind(org.trade_register.clone())
        .bind(a.map(|a| a.street.clone()))
        .bind(a.map(|a| a.house_number.clone()))
        .bind(a.map(|a| a.postal_code.clone()))
        .bind(a.map(|a| a.city.clone()))
        .bind(org.po_box.clone())
        .bind(i64::from(org.admins_use_services))
        .bind(org.updated_at)
        .bind(&org.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn membership_insert<'q>(account_id: &'q AccountId, org_id: &'q OrgId, role: OrgRole) -> super::AnyQuery<'q> {
    sqlx::query("insert into org_users (account_id, org_id, role) values ($1, $2, $3)")
        .bind(account_id)
        .bind(org_id)
        .bind(role.as_str())
}
