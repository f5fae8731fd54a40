-- Staff (Kundenzentrum clerks, later the Fachliche Leitstelle), citizens' requests for an
-- in-person identity check (R-EID-2), and the audit trail of every staff action. Audit events
-- name the account by id without a foreign key, so they outlive a deleted account.
create table staff (
  staff_id text primary key,
  username text not null unique,
  password_hash text not null,
  name text not null,
  role text not null,
  created_at bigint not null
);

create table upgrade_requests (
  account_id text primary key references accounts (account_id) on delete cascade,
  birthdate text not null,
  street text not null,
  house_number text not null,
  postal_code text not null,
  city text not null,
  country text not null,
  requested_at bigint not null
);

create table audit_events (
  event_id text primary key,
  at bigint not null,
  actor text not null,
  action text not null,
  account_id text,
  outcome text not null,
  details text
);
create index audit_events_account on audit_events (account_id);
