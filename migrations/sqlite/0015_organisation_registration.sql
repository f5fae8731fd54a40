-- R-ORG-1…3: a pending registration may carry the organisation its registrant will administer
-- (JSON: name, register number, address, PO box, phone, date of birth, chosen services).
alter table registrations add column organisation text;
