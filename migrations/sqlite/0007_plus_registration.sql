-- R-REG-5: a registration as Servicekonto Plus carries the identity read from the eID (JSON:
-- the card's data and the pseudonym's keyed hash) until the activation link opens the account.
alter table registrations add column identity text;
