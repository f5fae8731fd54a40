-- Servicekonto Business (PRODUCT §7): organisations, their users (accounts of kind
-- 'organisation'), the services they subscribed to, groups, and what each user may use.
create table organisations (
  org_id text primary key,
  name text not null,
  trade_register text,
  street text,
  house_number text,
  postal_code text,
  city text,
  po_box text,
  -- R-ORG-8: administrators use services only while this is on.
  admins_use_services bigint not null default 0,
  -- R-ELS-1/2: set by the first ELSTER link; name, register number and address stay locked.
  elster_id text,
  created_at bigint not null,
  updated_at bigint not null
);
-- Which organisation an account of kind 'organisation' belongs to, as administrator or employee.
create table org_users (
  account_id text primary key references accounts (account_id) on delete cascade,
  org_id text not null references organisations (org_id) on delete cascade,
  role text not null
);
create index org_users_org on org_users (org_id);
-- R-ORG-7: subscriptions, 'released' or 'pending' until the Fachliche Leitstelle decides.
create table org_services (
  org_id text not null references organisations (org_id) on delete cascade,
  client_id text not null references clients (client_id) on delete cascade,
  state text not null,
  requested_at bigint not null,
  decided_at bigint,
  primary key (org_id, client_id)
);
create index org_services_state on org_services (state);
-- R-ORG-9: groups; members and services (with roles, a JSON list) by switches.
create table org_groups (
  group_id text primary key,
  org_id text not null references organisations (org_id) on delete cascade,
  name text not null,
  description text,
  created_at bigint not null
);
create index org_groups_org on org_groups (org_id);
create table org_group_members (
  group_id text not null references org_groups (group_id) on delete cascade,
  account_id text not null references accounts (account_id) on delete cascade,
  primary key (group_id, account_id)
);
create index org_group_members_account on org_group_members (account_id);
create table org_group_services (
  group_id text not null references org_groups (group_id) on delete cascade,
  client_id text not null references clients (client_id) on delete cascade,
  roles text not null,
  primary key (group_id, client_id)
);
-- R-ORG-8: a service granted to a user directly (roles: a JSON list).
create table org_user_services (
  account_id text not null references accounts (account_id) on delete cascade,
  client_id text not null references clients (client_id) on delete cascade,
  roles text not null,
  primary key (account_id, client_id)
);
