-- Servicekonto Plus: how an account's identity was verified (eID or Kundenzentrum) with the
-- data only a verification yields, and the eID pseudonym link that enables eID login (R-EID-3).
-- The pseudonym is stored only as a keyed hash.
create table verifications (
  account_id text primary key references accounts (account_id) on delete cascade,
  method text not null,
  verified_at bigint not null,
  birth_name text,
  place_of_birth text,
  nationality text,
  document_type text
);

create table eid_links (
  account_id text primary key references accounts (account_id) on delete cascade,
  pseudonym_hash text not null unique,
  login_enabled bigint not null,
  linked_at bigint not null
);
