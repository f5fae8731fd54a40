//! The repository on its own, one test per aggregate, on whichever backend the run uses
//! (SQLite, or PostgreSQL when `SERVICEKONTO_TEST_DATABASE_URL` is set): what is written reads
//! back the same, conflicts are conflicts, the single-use operations work once, and deletions
//! take what depends on them.

use servicekonto::accounts::links::{LinkPurpose, StoredLink};
use servicekonto::accounts::registration::PendingRegistration;
use servicekonto::accounts::{Account, Address};
use servicekonto::clients::{Admits, AuthMethod, Client, GrantType, SubjectType};
use servicekonto::clock::Timestamp;
use servicekonto::grants::Grant;
use servicekonto::ids::{ClientId, GrantId, SessionId, StaffId};
use servicekonto::mail::QueuedMail;
use servicekonto::protocol::claims::ClaimsRequest;
use servicekonto::protocol::scope::Scopes;
use servicekonto::secret::{Secret, random_token};
use servicekonto::staff::{Role, Staff, UpgradeRequest};
use servicekonto::store::{RotateOutcome, Store, StoreError};
use servicekonto::trust::TrustLevel;

use crate::support::Backing;

const NOW: Timestamp = Timestamp(1_800_000_000);

/// A migrated store of its own, with the database removed when the test ends.
async fn store() -> (Store, Backing, std::path::PathBuf) {
    let (store, backing, dir, _) = store_and_url().await;
    (store, backing, dir)
}

/// [`store`], with the database's URL for a raw connection.
async fn store_and_url() -> (Store, Backing, std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("sk-store-{}", random_token(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let (backing, url, _) = Backing::create(&dir).await;
    let store = Store::connect(&url, std::time::Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    (store, backing, dir, url)
}

fn account(email: &str) -> Account {
    Account::citizen(
        email.into(),
        Secret::new("$argon2id$stub".into()),
        "Erika".into(),
        "Mustermann".into(),
        NOW,
    )
}

fn address() -> Address {
    Address {
        street: "Heidestraße".into(),
        house_number: "17".into(),
        postal_code: "51147".into(),
        city: "Köln".into(),
        country: "DE".into(),
    }
}

/// The id of test client `dienst-N`.
fn dienst(n: u8) -> ClientId {
    ClientId::new(format!("dienst-{n}"))
}

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        name: "Dienst".into(),
        secret_hash: Some("1.hash".into()),
        auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec!["https://rp.example/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: Scopes::parse("openid profile").unwrap(),
        min_level: TrustLevel::Basic,
        jwks_uri: None,
        subject_type: SubjectType::Pairwise,
        subject_key_version: 2,
        created_at: NOW,
        backchannel_logout_uri: Some("https://rp.example/bcl".into()),
        allow_interop: true,
        federation_partner: false,
        admits: Admits::Any,
        requires_approval: true,
        roles: vec!["sachbearbeitung".into(), "leitung".into()],
        description: Some("Gewerbe an-, um- und abmelden".into()),
        cost_note: Some("20 € je Anzeige".into()),
    }
}

fn grant(account_id: &str, client_id: &str) -> Grant {
    Grant {
        id: GrantId::random(),
        account_id: account_id.into(),
        client_id: client_id.into(),
        scope: Scopes::parse("openid profile").unwrap(),
        claims: ClaimsRequest::default(),
        acr: servicekonto::trust::Acr::of(TrustLevel::Basic),
        amr: vec![servicekonto::trust::Method::Pwd],
        auth_time: NOW,
        sid: SessionId::random(),
        created_at: NOW,
        expires_at: NOW + 3600,
        revoked_at: None,
        withheld: vec!["birthdate".into()],
    }
}

#[tokio::test]
async fn store_accounts_read_back_conflict_on_email_and_change_field_by_field() {
    let (store, _backing, _dir) = store().await;
    let mut a = account("erika@example.de");
    a.address = Some(address());
    store.insert_account(&a).await.unwrap();
    let read = store.account(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (read.email.as_str(), read.address.as_ref().unwrap().city.as_str()),
        ("erika@example.de", "Köln")
    );
    assert_eq!(store.account_by_email("erika@example.de").await.unwrap().unwrap().id, a.id);
    assert!(matches!(
        store.insert_account(&account("erika@example.de")).await,
        Err(StoreError::Conflict(_))
    ));
    store.set_email(&a.id, "erika.neu@example.de", NOW + 1).await.unwrap();
    assert!(store.account_by_email("erika@example.de").await.unwrap().is_none());
    store.block_account(&a.id, NOW + 2).await.unwrap();
    assert_eq!(store.account(&a.id).await.unwrap().unwrap().blocked_at, Some(NOW + 2));
    store.delete_account(&a.id).await.unwrap();
    assert!(store.account(&a.id).await.unwrap().is_none());
}

#[tokio::test]
async fn store_clients_read_back_with_every_field_and_removal_takes_grants_and_consents() {
    let (store, _backing, _dir) = store().await;
    let c = client("dienst-1");
    store.insert_client(&c).await.unwrap();
    let read = store.client(&dienst(1)).await.unwrap().unwrap();
    assert_eq!(
        (
            read.subject_key_version,
            read.backchannel_logout_uri.as_deref(),
            read.allow_interop,
            read.scopes.to_string()
        ),
        (2, Some("https://rp.example/bcl"), true, "openid profile".to_string())
    );
    assert_eq!(
        (read.admits, read.requires_approval, read.roles.clone()),
        (Admits::Any, true, vec!["sachbearbeitung".to_string(), "leitung".to_string()])
    );
    assert_eq!(
        (read.description.as_deref(), read.cost_note.as_deref()),
        (Some("Gewerbe an-, um- und abmelden"), Some("20 € je Anzeige"))
    );
    assert!(matches!(store.insert_client(&c).await, Err(StoreError::Conflict(_))));
    store
        .replace_client_secret_hash(&dienst(1), "not-the-stored-one", "2.new")
        .await
        .unwrap();
    assert_eq!(
        store.client(&dienst(1)).await.unwrap().unwrap().secret_hash.as_deref(),
        Some("1.hash")
    );
    store.replace_client_secret_hash(&dienst(1), "1.hash", "2.new").await.unwrap();
    assert_eq!(
        store.client(&dienst(1)).await.unwrap().unwrap().secret_hash.as_deref(),
        Some("2.new")
    );

    let a = account("erika@example.de");
    store.insert_account(&a).await.unwrap();
    store.save_consent(&a.id, &dienst(1), &c.scopes, NOW).await.unwrap();
    let g = grant(a.id.as_str(), "dienst-1");
    store.insert_grant(&g, Some("refresh-hash")).await.unwrap();
    assert!(store.remove_client(&dienst(1)).await.unwrap());
    assert!(store.client(&dienst(1)).await.unwrap().is_none());
    assert!(store.grant(&g.id).await.unwrap().is_none());
    assert!(store.consent(&a.id, &dienst(1)).await.unwrap().is_none());
    assert!(!store.remove_client(&dienst(1)).await.unwrap());
}

#[tokio::test]
async fn store_grants_rotate_refresh_tokens_once_and_a_replay_revokes_the_chain() {
    let (store, _backing, _dir) = store().await;
    let a = account("erika@example.de");
    store.insert_account(&a).await.unwrap();
    store.insert_client(&client("dienst-1")).await.unwrap();
    store.insert_client(&client("dienst-2")).await.unwrap();
    let g = grant(a.id.as_str(), "dienst-1");
    store.insert_grant(&g, Some("r1")).await.unwrap();
    assert_eq!(store.grant(&g.id).await.unwrap().unwrap().withheld, ["birthdate"]);
    assert!(matches!(
        store.rotate_refresh("r1", "r2", &dienst(2), NOW).await.unwrap(),
        RotateOutcome::Invalid
    ));
    assert!(matches!(
        store.rotate_refresh("r1", "r2", &dienst(1), NOW).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    assert_eq!(store.refresh_token_grant("r2", NOW).await.unwrap().unwrap().id, g.id);
    assert!(matches!(
        store.rotate_refresh("r1", "r3", &dienst(1), NOW).await.unwrap(),
        RotateOutcome::Reused
    ));
    assert!(
        store.grant(&g.id).await.unwrap().unwrap().revoked_at.is_some(),
        "a replay revokes the grant"
    );
    assert!(store.refresh_token_grant("r2", NOW).await.unwrap().is_none());

    store.revoke_access_token("jti-1", NOW + 60).await.unwrap();
    assert!(store.access_token_revoked("jti-1").await.unwrap());
    assert!(!store.access_token_revoked("jti-2").await.unwrap());
    let other = grant(a.id.as_str(), "dienst-2");
    store.insert_grant(&other, None).await.unwrap();
    // Every session a service relied on until its grant expires, revoked or not: the sessions
    // Back-Channel Logout tells services about.
    let mut both = vec![(dienst(1), g.sid.clone()), (dienst(2), other.sid.clone())];
    both.sort();
    assert_eq!(store.grant_sessions(&a.id, None, NOW).await.unwrap(), both);
    let only = [(dienst(2), other.sid.clone())];
    assert_eq!(store.grant_sessions(&a.id, Some(&other.sid), NOW).await.unwrap(), only);
    assert_eq!(store.revoke_account_grants(&a.id, None, NOW).await.unwrap(), 1, "only the live one");
    assert!(store.grant(&other.id).await.unwrap().unwrap().revoked_at.is_some());
    assert!(store.purge_expired(NOW + 7200, 7 * 86_400).await.unwrap() > 0);
    assert!(store.grant(&g.id).await.unwrap().is_none(), "expired grants are purged");
}

#[tokio::test]
async fn store_consents_are_per_account_and_client_and_replaced_not_duplicated() {
    let (store, _backing, _dir) = store().await;
    let a = account("erika@example.de");
    store.insert_account(&a).await.unwrap();
    store.insert_client(&client("dienst-1")).await.unwrap();
    assert!(store.consent(&a.id, &dienst(1)).await.unwrap().is_none());
    store
        .save_consent(&a.id, &dienst(1), &Scopes::parse("openid").unwrap(), NOW)
        .await
        .unwrap();
    store
        .save_consent(&a.id, &dienst(1), &Scopes::parse("openid email").unwrap(), NOW + 1)
        .await
        .unwrap();
    assert_eq!(store.consent(&a.id, &dienst(1)).await.unwrap().unwrap().to_string(), "email openid");
    assert_eq!(store.consents_of(&a.id).await.unwrap().len(), 1);
    assert!(store.delete_consent(&a.id, &dienst(1)).await.unwrap());
    assert!(!store.delete_consent(&a.id, &dienst(1)).await.unwrap());
}

#[tokio::test]
async fn store_registrations_and_links_are_taken_once_and_expire() {
    let (store, _backing, _dir) = store().await;
    let r = PendingRegistration {
        id: random_token(8),
        token_hash: "t-hash".into(),
        email: "neu@example.de".into(),
        password_hash: Secret::new("$argon2id$stub".into()),
        given_name: "Neu".into(),
        family_name: "Person".into(),
        locale: "de".into(),
        identity: None,
        organisation: Some(servicekonto::model::org::OrgRegistration {
            name: "Neu GmbH".into(),
            trade_register: None,
            address: servicekonto::model::org::OrgAddress {
                street: "Weg".into(),
                house_number: "1".into(),
                postal_code: "12345".into(),
                city: "Ort".into(),
            },
            po_box: Some("1234".into()),
            phone_number: "0221 1".into(),
            birthdate: "1970-01-01".into(),
            services: vec![servicekonto::ids::ClientId::from("svc")],
            elster: Some(("EL-1".into(), "cert-hash".into())),
        }),
        created_at: NOW,
        expires_at: NOW + 86_400,
    };
    store.put_registration(&r).await.unwrap();
    assert!(store.registration_pending("t-hash", NOW).await.unwrap().is_some());
    assert!(
        store.registration_pending("t-hash", NOW + 86_401).await.unwrap().is_none(),
        "expired"
    );
    assert_eq!(store.registration_for("neu@example.de").await.unwrap().unwrap().id, r.id);
    let taken = store.take_registration("t-hash", NOW).await.unwrap().unwrap();
    assert_eq!(taken.organisation, r.organisation, "the organisation's data round-trips");
    assert!(store.take_registration("t-hash", NOW).await.unwrap().is_none(), "once");

    let a = account("erika@example.de");
    store.insert_account(&a).await.unwrap();
    let link = StoredLink {
        account_id: a.id.clone(),
        purpose: LinkPurpose::Reset,
        payload: None,
        expires_at: NOW + 3600,
    };
    store.insert_link("l-hash", &link, NOW).await.unwrap();
    assert!(
        store.link("l-hash", LinkPurpose::Block, NOW).await.unwrap().is_none(),
        "bound to its purpose"
    );
    assert!(
        store.link("l-hash", LinkPurpose::Reset, NOW + 3601).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.take_link("l-hash", LinkPurpose::Reset, NOW).await.unwrap().is_some());
    assert!(store.take_link("l-hash", LinkPurpose::Reset, NOW).await.unwrap().is_none(), "once");
}

#[tokio::test]
async fn store_staff_keep_their_sealed_seed_and_take_each_totp_step_once() {
    let (store, _backing, _dir) = store().await;
    let s = Staff {
        id: StaffId::from(random_token(12)),
        username: "clara".into(),
        password_hash: Secret::new("$argon2id$stub".into()),
        name: "Clara Schalter".into(),
        role: Role::Kundenzentrum,
        created_at: NOW,
        totp_secret: Some("1.sealed".into()),
    };
    store.insert_staff(&s).await.unwrap();
    assert!(matches!(store.insert_staff(&s).await, Err(StoreError::Conflict(_))));
    let read = store.staff_by_username("clara").await.unwrap().unwrap();
    assert_eq!((read.id.as_str(), read.totp_secret.as_deref()), (s.id.as_str(), Some("1.sealed")));
    assert!(store.take_totp_step(&s.id, 100).await.unwrap());
    assert!(!store.take_totp_step(&s.id, 100).await.unwrap(), "the same step twice");
    assert!(!store.take_totp_step(&s.id, 99).await.unwrap(), "an earlier step");
    assert!(store.take_totp_step(&s.id, 101).await.unwrap());
    assert!(store.set_staff_totp("clara", "1.renewed").await.unwrap());
    assert!(store.take_totp_step(&s.id, 50).await.unwrap(), "a new seed starts afresh");
    assert!(!store.set_staff_totp("nobody", "1.x").await.unwrap());

    let a = account("erika@example.de");
    store.insert_account(&a).await.unwrap();
    let request = UpgradeRequest {
        account_id: a.id.clone(),
        birthdate: "1964-08-12".into(),
        address: address(),
        requested_at: NOW,
    };
    store.put_upgrade_request(&request).await.unwrap();
    assert_eq!(store.upgrade_requests().await.unwrap().len(), 1);
    store.delete_upgrade_request(&a.id).await.unwrap();
    assert!(store.upgrade_request(&a.id).await.unwrap().is_none());
}

#[tokio::test]
async fn store_mail_is_claimed_by_one_worker_retried_and_purged() {
    let (store, _backing, _dir) = store().await;
    let m = QueuedMail {
        id: random_token(8),
        sender: "noreply@servicekonto.example".into(),
        recipient: "erika@example.de".into(),
        message: "Subject: x\r\n\r\nbody".into(),
        kind: "password_changed".into(),
        attempts: 0,
        next_attempt_at: NOW,
    };
    store.queue_mail(&m, NOW).await.unwrap();
    let due = store.due_mail(NOW, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(store.claim_mail(&due[0], NOW + 60).await.unwrap());
    assert!(!store.claim_mail(&due[0], NOW + 60).await.unwrap(), "one worker claims it");
    assert!(store.due_mail(NOW, 10).await.unwrap().is_empty());
    store.mail_failed(&m.id, "connection refused").await.unwrap();
    assert_eq!(store.due_mail(NOW + 60, 10).await.unwrap().len(), 1, "due again at its retry time");
    store.mail_delivered(&m.id).await.unwrap();
    assert!(store.due_mail(NOW + 600, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn store_sealed_signing_keys_are_listed_and_deleted() {
    let (store, _backing, _dir) = store().await;
    store.insert_signing_key("kid-1", NOW, "sealed-1").await.unwrap();
    store.insert_signing_key("kid-2", NOW + 1, "sealed-2").await.unwrap();
    assert_eq!(store.signing_key_ids().await.unwrap(), ["kid-1", "kid-2"]);
    assert_eq!(store.signing_keys().await.unwrap().len(), 2);
    store.delete_signing_key("kid-1").await.unwrap();
    assert_eq!(store.signing_key_ids().await.unwrap(), ["kid-2"]);
    assert!(store.claim_once("claim:test", NOW).await.unwrap());
    assert!(!store.claim_once("claim:test", NOW).await.unwrap(), "claimed once across nodes");
}

#[tokio::test]
async fn r_svc_3_a_consent_that_cannot_be_read_is_not_overwritten() {
    let (store, _backing, _dir, url) = store_and_url().await;
    let a = account("erika@example.de");
    store.insert_account(&a).await.unwrap();
    store.insert_client(&client("dienst-1")).await.unwrap();
    let given = servicekonto::grants::give_consent(&store, &a.id, &dienst(1), &Scopes::parse("openid").unwrap(), NOW)
        .await
        .unwrap();
    assert_eq!(given.to_string(), "openid");
    let given = servicekonto::grants::give_consent(&store, &a.id, &dienst(1), &Scopes::parse("email").unwrap(), NOW)
        .await
        .unwrap();
    assert_eq!(given.to_string(), "email openid", "a consent grows");
    // A row this release cannot read (written by hand, or by a newer release).
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query("update consents set scope = 'openid \"broken' where account_id = $1")
        .bind(&a.id)
        .execute(&mut conn)
        .await
        .unwrap();
    let refused = servicekonto::grants::give_consent(&store, &a.id, &dienst(1), &Scopes::parse("profile").unwrap(), NOW + 1).await;
    assert!(matches!(refused, Err(StoreError::Corrupt(_))), "{refused:?}");
    let kept: String = sqlx::query_scalar("select scope from consents where account_id = $1")
        .bind(&a.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, "openid \"broken", "nothing was overwritten");
}

#[tokio::test]
async fn store_idempotency_keys_are_claimed_once_answered_released_and_purged() {
    use servicekonto::model::idempotency::StoredAnswer;
    let (store, _backing, _dir) = store().await;
    let id = ("client:a|sub:x", "key-1");
    assert!(store.claim_idempotency_key(id, "print", NOW, NOW + 60).await.unwrap());
    assert!(
        !store.claim_idempotency_key(id, "print", NOW, NOW + 60).await.unwrap(),
        "claimed once"
    );
    assert!(
        store
            .claim_idempotency_key(("client:b|sub:x", "key-1"), "print", NOW, NOW + 60)
            .await
            .unwrap(),
        "per caller"
    );
    let record = store.idempotency_record(id, NOW).await.unwrap().unwrap();
    assert_eq!(
        (record.fingerprint.as_str(), record.answer.is_none(), record.created_at),
        ("print", true, NOW)
    );
    let answer = StoredAnswer {
        status: 201,
        content_type: Some("application/json".into()),
        location: Some("/x/1".into()),
        body: "{\"id\":1}".into(),
    };
    store.record_idempotent_answer(id, &answer).await.unwrap();
    assert_eq!(
        store.idempotency_record(id, NOW).await.unwrap().unwrap().answer,
        Some(answer.clone())
    );
    store.release_idempotency_key(id, NOW + 10).await.unwrap();
    assert!(
        store.idempotency_record(id, NOW).await.unwrap().is_some(),
        "an answered key is not released"
    );
    assert!(store.idempotency_record(id, NOW + 61).await.unwrap().is_none(), "expired");
    assert!(
        store.claim_idempotency_key(id, "other", NOW + 61, NOW + 120).await.unwrap(),
        "free after its time"
    );
    store.release_idempotency_key(id, NOW + 62).await.unwrap();
    assert!(
        store.idempotency_record(id, NOW + 61).await.unwrap().is_none(),
        "released while unanswered"
    );
    assert_eq!(store.purge_idempotency_keys(NOW + 61).await.unwrap(), 1, "client b's key");
}

fn organisation(id: &str) -> servicekonto::orgs::Organisation {
    servicekonto::orgs::Organisation {
        id: id.into(),
        name: "Firma GmbH".into(),
        trade_register: Some("HRB 1".into()),
        address: Some(servicekonto::orgs::OrgAddress {
            street: "Hafenstraße".into(),
            house_number: "12a-c".into(),
            postal_code: "20457".into(),
            city: "Hamburg".into(),
        }),
        po_box: Some("123456".into()),
        admins_use_services: false,
        elster_id: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

#[tokio::test]
async fn store_organisations_read_back_with_members_subscriptions_groups_and_grants_in_one_access_query() {
    use servicekonto::ids::{GroupId, OrgId};
    use servicekonto::orgs::{Group, OrgRole, Subscription, SubscriptionState};
    let (store, _backing, _dir) = store().await;
    store.insert_client(&client("dienst-1")).await.unwrap();
    let org = organisation("org-1");
    let admin = servicekonto::accounts::Account {
        kind: servicekonto::accounts::AccountKind::Organisation,
        ..account("admin@firma.example")
    };
    store.insert_organisation(&org, &admin, None).await.unwrap();
    assert_eq!(store.organisation(&OrgId::from("org-1")).await.unwrap().as_ref(), Some(&org));
    // A taken email leaves no organisation behind.
    let again = servicekonto::accounts::Account {
        id: "other".into(),
        ..admin.clone()
    };
    assert!(matches!(
        store.insert_organisation(&organisation("org-2"), &again, None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.organisation(&OrgId::from("org-2")).await.unwrap().is_none());

    let emil = servicekonto::accounts::Account {
        kind: servicekonto::accounts::AccountKind::Organisation,
        ..account("emil@firma.example")
    };
    store.insert_org_user(&emil, &org.id, OrgRole::Employee).await.unwrap();
    assert_eq!(store.membership(&admin.id).await.unwrap().unwrap().role, OrgRole::Admin);
    assert_eq!(store.membership(&emil.id).await.unwrap().unwrap().org_id, org.id);
    let d1 = dienst(1);
    assert_eq!(store.org_access(&emil.id, &d1).await.unwrap().unwrap().subscription, None);
    assert!(store.org_access(&"nobody".into(), &d1).await.unwrap().is_none());

    store
        .insert_subscription(&Subscription {
            org_id: org.id.clone(),
            client_id: d1.clone(),
            state: SubscriptionState::Pending,
            requested_at: NOW,
            decided_at: None,
        })
        .await
        .unwrap();
    assert!(store.release_subscription(&org.id, &d1, NOW + 5).await.unwrap());
    assert!(!store.release_subscription(&org.id, &d1, NOW + 6).await.unwrap(), "released once");
    let s = store.subscription(&org.id, &d1).await.unwrap().unwrap();
    assert_eq!((s.state, s.decided_at), (SubscriptionState::Released, Some(NOW + 5)));
    assert_eq!(store.subscriptions(&org.id).await.unwrap().len(), 1);

    let group = Group {
        id: GroupId::from("g-1"),
        org_id: org.id.clone(),
        name: "Team".into(),
        description: Some("Beschreibung".into()),
        created_at: NOW,
    };
    store.insert_group(&group).await.unwrap();
    assert_eq!(store.group(&group.id).await.unwrap().as_ref(), Some(&group));
    assert_eq!(store.groups_page(&org.id, "", 100).await.unwrap(), vec![group.clone()]);
    store.put_user_service(&emil.id, &d1, &["leitung".into()]).await.unwrap();
    store.put_user_service(&emil.id, &d1, &["lesen".into()]).await.unwrap();
    store.put_group_member(&group.id, &emil.id).await.unwrap();
    store.put_group_member(&group.id, &emil.id).await.unwrap();
    store.put_group_service(&group.id, &d1, &["sachbearbeitung".into()]).await.unwrap();
    let rows = store.org_access(&emil.id, &d1).await.unwrap().unwrap();
    let mut grants = rows.grants.clone();
    grants.sort();
    assert_eq!(grants, vec![vec!["lesen".to_string()], vec!["sachbearbeitung".to_string()]]);
    assert_eq!(
        (rows.org_name.as_str(), rows.role, rows.subscription),
        ("Firma GmbH", OrgRole::Employee, Some(SubscriptionState::Released))
    );
    assert!(store.set_admins_use_services(&org.id, true, NOW + 7).await.unwrap());
    assert!(store.org_access(&admin.id, &d1).await.unwrap().unwrap().admins_use_services);

    assert!(store.remove_group_member(&group.id, &emil.id).await.unwrap());
    assert!(!store.remove_group_member(&group.id, &emil.id).await.unwrap());
    assert_eq!(store.org_access(&emil.id, &d1).await.unwrap().unwrap().grants.len(), 1);
    store.put_group_member(&group.id, &emil.id).await.unwrap();
    assert!(store.delete_group(&group.id).await.unwrap());
    assert!(store.group(&group.id).await.unwrap().is_none());
    assert_eq!(
        store.org_access(&emil.id, &d1).await.unwrap().unwrap().grants,
        vec![vec!["lesen".to_string()]]
    );
    store.put_group_service(&"g-none".into(), &d1, &[]).await.unwrap_err();

    // Ending the subscription takes every grant of the service with it.
    assert!(store.remove_subscription(&org.id, &d1).await.unwrap());
    let rows = store.org_access(&emil.id, &d1).await.unwrap().unwrap();
    assert_eq!((rows.subscription, rows.grants.len()), (None, 0));
    assert!(!store.remove_user_service(&emil.id, &d1).await.unwrap());

    // Deleting an account or a client takes its organisation rows.
    store.put_user_service(&emil.id, &d1, &[]).await.unwrap();
    assert!(store.delete_account(&emil.id).await.unwrap());
    assert!(store.membership(&emil.id).await.unwrap().is_none());
    store.put_user_service(&admin.id, &d1, &[]).await.unwrap();
    assert!(store.remove_client(&d1).await.unwrap());
    assert_eq!(store.org_access(&admin.id, &d1).await.unwrap().unwrap().grants.len(), 0);
}

#[tokio::test]
async fn store_elster_links_one_certificate_per_user_and_one_organisation_per_elster_id() {
    use servicekonto::ids::OrgId;
    use servicekonto::orgs::OrgRole;
    let (store, _backing, _dir) = store().await;
    let org_account = |email: &str| servicekonto::accounts::Account {
        kind: servicekonto::accounts::AccountKind::Organisation,
        ..account(email)
    };
    let (admin, emil) = (org_account("admin@firma.example"), org_account("emil@firma.example"));
    let org = organisation("org-1");
    store.insert_organisation(&org, &admin, None).await.unwrap();
    store.insert_org_user(&emil, &org.id, OrgRole::Employee).await.unwrap();

    let from_elster = servicekonto::orgs::Organisation {
        name: "Aus ELSTER GmbH".into(),
        ..org.clone()
    };
    store
        .link_elster(&admin.id, ("cert-a", "EL-1"), Some(&from_elster), NOW + 1)
        .await
        .unwrap();
    let stored = store.organisation(&org.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.elster_id.as_deref()),
        ("Aus ELSTER GmbH", Some("EL-1"))
    );
    assert_eq!(store.organisation_by_elster_id("EL-1").await.unwrap(), Some(OrgId::from("org-1")));
    // A second first link loses and changes nothing; so does a certificate taken by another user.
    assert!(matches!(
        store.link_elster(&emil.id, ("cert-e", "EL-2"), Some(&org), NOW + 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.link_elster(&emil.id, ("cert-a", "EL-1"), None, NOW + 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.elster_link(&emil.id).await.unwrap().is_none());
    assert_eq!(store.organisation(&org.id).await.unwrap().unwrap().name, "Aus ELSTER GmbH");
    // Replacing overwrites; deleting removes; the organisation keeps its ELSTER id.
    store.link_elster(&admin.id, ("cert-b", "EL-1"), None, NOW + 3).await.unwrap();
    assert_eq!(store.account_by_certificate("cert-a").await.unwrap(), None);
    assert_eq!(store.account_by_certificate("cert-b").await.unwrap(), Some(admin.id.clone()));
    assert!(store.delete_elster_link(&admin.id).await.unwrap());
    assert!(!store.delete_elster_link(&admin.id).await.unwrap());
    assert_eq!(
        store.organisation(&org.id).await.unwrap().unwrap().elster_id.as_deref(),
        Some("EL-1")
    );
    // An organisation registered with ELSTER comes with its administrator's certificate; its
    // ELSTER id is taken once.
    let registered = servicekonto::orgs::Organisation {
        elster_id: Some("EL-9".into()),
        ..organisation("org-9")
    };
    let boss = org_account("boss@neu.example");
    store.insert_organisation(&registered, &boss, Some("cert-9")).await.unwrap();
    assert_eq!(store.account_by_certificate("cert-9").await.unwrap(), Some(boss.id.clone()));
    let twin = servicekonto::orgs::Organisation {
        elster_id: Some("EL-9".into()),
        ..organisation("org-10")
    };
    assert!(matches!(
        store
            .insert_organisation(&twin, &org_account("twin@neu.example"), Some("cert-10"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.organisation(&OrgId::from("org-10")).await.unwrap().is_none());
    assert_eq!(store.account_by_certificate("cert-10").await.unwrap(), None);
}
