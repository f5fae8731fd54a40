-- OpenID Connect Back-Channel Logout 1.0 (R-SES-5): where a client wants to be told that a
-- session it relied on has ended.
alter table clients add column backchannel_logout_uri text;
