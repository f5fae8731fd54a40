-- Interoperable Servicekonten (PRODUCT §6). A service may allow logins through another Land
-- (R-FED-2); another Land's Servicekonto is a client marked as federation partner (R-FED-4).
alter table clients add column allow_interop bigint not null default 0;
alter table clients add column federation_partner bigint not null default 0;
-- Attributes the user deselected at a partner's consent (JSON list); never released.
alter table grants add column withheld text;
-- A login through another Land is not a local account (R-FED-3): what its access tokens stand
-- for is kept here, only the claims released to the service, until the tokens expire.
create table federated_logins (
  login_id text primary key,
  client_id text not null references clients (client_id) on delete cascade,
  upstream text not null,
  sub text not null,
  claims text not null,
  acr text not null,
  created_at bigint not null,
  expires_at bigint not null
);
create index federated_logins_expiry on federated_logins (expires_at);
