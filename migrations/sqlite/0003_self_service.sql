-- Citizens' self-service: pending registrations (R-REG-4), single-use links for password
-- reset, email change and blocking (R-SES-4, R-PRO-2, R-SES-6), the mail queue that retries
-- undelivered mail, and the account's block and delivery-consent state (R-SES-6, R-PRO-4).

alter table accounts add column title text;
alter table accounts add column blocked_at bigint;
alter table accounts add column delivery_consent_at bigint;

create table registrations (
  registration_id text primary key,
  token_hash text not null unique,
  email text not null unique,
  password_hash text not null,
  given_name text not null,
  family_name text not null,
  locale text not null,
  created_at bigint not null,
  expires_at bigint not null
);
create index registrations_expiry on registrations (expires_at);

create table account_tokens (
  token_hash text primary key,
  account_id text not null references accounts (account_id) on delete cascade,
  purpose text not null,
  payload text,
  created_at bigint not null,
  expires_at bigint not null
);
create index account_tokens_account on account_tokens (account_id);

create table mail_queue (
  mail_id text primary key,
  sender text not null,
  recipient text not null,
  message text not null,
  kind text not null,
  attempts bigint not null default 0,
  next_attempt_at bigint not null,
  last_error text,
  created_at bigint not null
);
create index mail_queue_due on mail_queue (next_attempt_at);
