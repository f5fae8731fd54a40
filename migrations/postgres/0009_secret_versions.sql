-- Server secrets come from configuration (R-SEC-7). The database keeps only a fingerprint of
-- every version an installation has used, so a node started without a secret in use, or with a
-- different value for the same version, refuses to start instead of silently using another.
create table secret_versions (
  name text not null,
  version bigint not null,
  fingerprint text not null,
  created_at bigint not null,
  primary key (name, version)
);
-- The version of pairwise_subject_key a client's subjects are derived with: a new version
-- serves clients registered after it, so no service sees its users' subjects change.
alter table clients add column subject_key_version bigint not null default 1;
