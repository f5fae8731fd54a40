-- The staff trail becomes the audit log of every security event (R-SEC-6): logins and their
-- failures by method, password and email changes, blocks, staff and operator actions, key
-- rotation and revocation. It gains the client address, and an index by time for operators'
-- queries and the retention purge.
alter table audit_events add column client_addr text;
create index audit_events_at on audit_events (at);
