-- Idempotency keys of the resource API (R-API-4): a service's create carries one, and a retry
-- with the same key, on any node, gets the first answer instead of a second object. The row is
-- claimed before the create runs (status 0 while it runs), then holds the answer until it
-- expires.
create table idempotency_keys (
    caller text not null,
    idem_key text not null,
    fingerprint text not null,
    status bigint not null default 0,
    content_type text,
    location text,
    body text,
    created_at bigint not null,
    expires_at bigint not null,
    primary key (caller, idem_key)
);
create index idempotency_keys_expires_at on idempotency_keys (expires_at);
