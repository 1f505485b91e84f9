-- Merchant events and their webhook deliveries (issue 10). Written by the webhook dispatcher from
-- its durable consumer of PAY_EVT, in one transaction per batch before the batch is acknowledged.
-- Unlike the read models these are not truncated by a rebuild: a delivery's attempts happened and
-- cannot be replayed from the stream (the events could, but their ids and order would not change).

-- One row per merchant event. (seq, idx): the PAY_EVT frame's stream sequence and the causing event's
-- index in it, the order of events (per payment, and the cursor of GET /v1/events per merchant).
create table webhook_events (
  id text primary key,
  merchant_id text not null,
  payment_id text not null,
  type text not null,
  created timestamptz not null,
  seq bigint not null,
  idx int not null,
  -- when the frame was appended to PAY_EVT: the start of the delivery lag
  appended_at timestamptz not null,
  body jsonb not null
);
create index webhook_events_merchant_cursor on webhook_events (merchant_id, seq, idx);
create index webhook_events_merchant_type on webhook_events (merchant_id, type, seq, idx);
create index webhook_events_payment on webhook_events (payment_id, seq, idx);

-- One row per event and endpoint (origin 'stream'), plus one per redelivery or replay asked for.
-- attempt_log: [{at, status (HTTP status or null), error (or null), latency_ms, response (<= 1 KB)}].
create table webhook_deliveries (
  id text primary key,
  event_id text not null references webhook_events (id),
  endpoint_id text not null,
  merchant_id text not null,
  payment_id text not null,
  seq bigint not null,
  idx int not null,
  origin text not null default 'stream' check (origin in ('stream', 'redeliver', 'replay')),
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'dead')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null,
  last_attempt_at timestamptz,
  -- a sender holds the delivery until then (a killed sender's claim runs out, and another sends it)
  leased_until timestamptz,
  -- the W3C trace context of the frame that caused it: each attempt's span is its child
  traceparent text,
  created_at timestamptz not null default now(),
  attempt_log jsonb not null default '[]'
) with (fillfactor = 70);
-- fillfactor: room in each page, so that taking a lease (leased_until, in no index) is a HOT
-- update that touches none of the indexes below.
-- Ingest is idempotent: a frame read twice (redelivered, or by a second dispatcher) adds nothing.
create unique index webhook_deliveries_once on webhook_deliveries (event_id, endpoint_id) where origin = 'stream';
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_order on webhook_deliveries (endpoint_id, payment_id, seq, idx)
  where status = 'pending';
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, created_at desc, id desc);
create index webhook_deliveries_payment on webhook_deliveries (payment_id, created_at);
