-- The staff second factor (R-SEC-4): the TOTP seed, sealed with the server secret
-- staff_totp_key (never in clear here), and the last time step a code was accepted for, so a
-- code works once.
alter table staff add column totp_secret text;
alter table staff add column totp_last_step bigint not null default 0;
