-- Who may use a service and what the catalogue says of it (R-SVC-1, R-SVC-2): the account
-- kinds it admits (citizen, organisation, any), whether organisations need the Fachliche
-- Leitstelle's release, the roles it defines (JSON list), a description and a cost note.
alter table clients add column account_kind text not null default 'citizen';
alter table clients add column requires_approval bigint not null default 0;
alter table clients add column roles text not null default '[]';
alter table clients add column description text;
alter table clients add column cost_note text;
