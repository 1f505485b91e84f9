-- The read models: projections of JetStream (PAY_EVT, SETTLE, RECON). Dropping any of these tables
-- loses no money: the projectors rebuild them from the streams. Amounts are integer minor units.

-- Where each projector has got to in its stream; written in the same transaction as its rows.
create table projection_offsets (
  name text primary key,
  last_seq bigint not null,
  updated_at timestamptz not null default now()
);

-- One row per payment: the searchable fields, and the folded state the projector continues from.
create table payments (
  id text primary key,
  merchant_id text not null,
  status text not null,
  psp text,
  amount bigint not null,
  currency text not null,
  captured_amount bigint not null default 0,
  refunded_amount bigint not null default 0,
  reference text,
  last4 text,
  brand text,
  bin_country text,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  last_seq bigint not null,
  state jsonb not null
);
create index payments_merchant_created on payments (merchant_id, created_at desc, id desc);
create index payments_created on payments (created_at desc, id desc);
create index payments_status_updated on payments (status, updated_at);

-- Every capture, refund and void a PSP performed for a payment, by the PSP's reference for it:
-- what a settlement line is matched against.
create table psp_operations (
  psp text not null,
  kind text not null,
  psp_reference text not null,
  payment_id text not null,
  merchant_id text not null,
  operation_id text,
  amount bigint not null,
  currency text not null,
  expected_fee bigint,
  brand text,
  bin_country text,
  at timestamptz not null,
  -- the line that settled it: '<report_id>#<line_no>'
  settled_by text,
  primary key (psp, kind, psp_reference)
);
create index psp_operations_unsettled on psp_operations (at) where settled_by is null and kind <> 'void';

create table settlement_reports (
  psp text not null,
  report_id text not null,
  content_sha256 text not null,
  source text not null,
  operator text,
  lines int not null default 0,
  matched int not null default 0,
  exceptions int not null default 0,
  rejected int not null default 0,
  ingested_at timestamptz not null default now(),
  primary key (psp, report_id)
);

create table settlement_lines (
  psp text not null,
  report_id text not null,
  line_no int not null,
  line_id text not null,
  kind text not null,
  psp_reference text,
  payment_id text,
  operation_id text,
  currency text not null,
  amount bigint not null,
  fee bigint not null,
  expected_fee bigint,
  net bigint not null,
  batch text not null,
  payout_id text,
  brand text,
  bin_country text,
  created_at timestamptz not null,
  outcome text not null,
  exception_id text,
  primary key (psp, report_id, line_no)
);
create index settlement_lines_operation on settlement_lines (psp, kind, psp_reference);
create index settlement_lines_payment on settlement_lines (payment_id) where payment_id is not null;
create index settlement_lines_created on settlement_lines (psp, created_at);

create table settlement_rejects (
  psp text not null,
  report_id text not null,
  line_no int not null,
  reason text not null,
  primary key (psp, report_id, line_no)
);

create table recon_exceptions (
  id text primary key,
  kind text not null,
  psp text not null,
  report_id text,
  line_no int,
  payment_id text,
  currency text,
  amount bigint,
  detail text not null,
  status text not null default 'open',
  opened_at timestamptz not null,
  resolution text,
  resolved_by text,
  resolved_at timestamptz,
  reason text,
  record jsonb not null
);
create index recon_exceptions_queue on recon_exceptions (status, kind, psp, opened_at);

create table ledger_entries (
  id text primary key,
  at timestamptz not null,
  kind text not null,
  payment_id text,
  currency text not null,
  description text not null,
  sources text[] not null,
  n bigserial not null
);
create index ledger_entries_at on ledger_entries (at, n);
create index ledger_entries_payment on ledger_entries (payment_id) where payment_id is not null;

create table ledger_postings (
  entry_id text not null references ledger_entries (id) on delete cascade,
  n int not null,
  account text not null,
  currency text not null,
  debit bigint not null,
  credit bigint not null,
  at timestamptz not null,
  primary key (entry_id, n)
);
create index ledger_postings_account on ledger_postings (account, currency, at);
