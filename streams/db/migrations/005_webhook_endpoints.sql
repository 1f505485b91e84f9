-- The merchants' webhook endpoints (POST /v1/webhook_endpoints). Unlike the read models this table
-- is a record, not a projection: the read-model rebuild leaves it alone. Signing secrets are held
-- only sealed (AES-256-GCM under the card key, bound to the endpoint id); the previous secret of a
-- rotation stays valid until previous_secret_expires_at.
create table webhook_endpoints (
  id text primary key,
  merchant_id text not null,
  url text not null,
  description text,
  -- '{*}': every event type
  enabled_events text[] not null,
  disabled boolean not null default false,
  disabled_reason text,
  secret_sealed text not null,
  previous_secret_sealed text,
  previous_secret_expires_at timestamptz,
  -- since when deliveries have kept failing (null: healthy); the dispatcher disables after a while
  failing_since timestamptz,
  -- sha256 of the Idempotency-Key of the request that issued the current secret (create or
  -- rotate): a repeat of that request is answered the same, secret included
  secret_issued_by text,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index webhook_endpoints_merchant on webhook_endpoints (merchant_id, created_at, id);
