-- R-ELS-1/3: a user's own ELSTER organisation certificate, stored only as a keyed hash of the
-- certificate's account id; one certificate belongs to one user, a user has at most one.
create table elster_links (
  account_id text primary key references accounts (account_id) on delete cascade,
  certificate_hash text not null unique,
  elster_org_id text not null,
  linked_at bigint not null
);
-- R-ELS-4: one organisation per ELSTER organisation.
create unique index organisations_elster_id on organisations (elster_id);
