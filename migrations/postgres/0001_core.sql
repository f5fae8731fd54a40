-- The OpenID Provider core: accounts, clients, grants with refresh tokens, consents,
-- revoked access tokens and server-wide secrets. Timestamps are unix seconds (UTC);
-- booleans are bigint 0/1 so one query serves SQLite and PostgreSQL.

create table accounts (
  account_id text primary key,
  email text not null unique,
  password_hash text not null,
  kind text not null,
  level text not null,
  given_name text not null,
  family_name text not null,
  birthdate text,
  street text,
  house_number text,
  postal_code text,
  city text,
  country text,
  phone_number text,
  email_verified bigint not null default 0,
  created_at bigint not null,
  updated_at bigint not null
);

create table clients (
  client_id text primary key,
  name text not null,
  secret_hash text,
  auth_method text not null,
  redirect_uris text not null,
  post_logout_redirect_uris text not null,
  grant_types text not null,
  scopes text not null,
  min_level text not null,
  jwks_uri text,
  subject_type text not null,
  created_at bigint not null
);

create table consents (
  account_id text not null references accounts (account_id) on delete cascade,
  client_id text not null references clients (client_id) on delete cascade,
  scope text not null,
  granted_at bigint not null,
  primary key (account_id, client_id)
);

create table grants (
  grant_id text primary key,
  account_id text not null references accounts (account_id) on delete cascade,
  client_id text not null references clients (client_id) on delete cascade,
  scope text not null,
  claims text,
  acr text not null,
  amr text not null,
  auth_time bigint not null,
  sid text not null,
  created_at bigint not null,
  expires_at bigint not null,
  revoked_at bigint
);
create index grants_account on grants (account_id);

create table refresh_tokens (
  token_hash text primary key,
  grant_id text not null references grants (grant_id) on delete cascade,
  created_at bigint not null,
  expires_at bigint not null,
  used_at bigint
);
create index refresh_tokens_grant on refresh_tokens (grant_id);

create table revoked_access_tokens (
  jti text primary key,
  expires_at bigint not null
);

create table server_secrets (
  name text primary key,
  value text not null,
  created_at bigint not null
);
