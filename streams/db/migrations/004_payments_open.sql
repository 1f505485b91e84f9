-- Whether a payment is not done (not at rest, or a PSP effect still open), kept by the payments
-- projection: the stuck list reads a partial index instead of every payment's state.
alter table payments add column open boolean not null default false;
update payments set open = true
  where status in ('created', 'authorizing', 'capturing')
     or state::text like '%"status":"unknown"%' or state::text like '%"status":"pending"%';
create index payments_open on payments (updated_at) where open;
