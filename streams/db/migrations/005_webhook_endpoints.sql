-- PLACEHOLDER of H1b's migration (issue 10): the webhook endpoints table exactly as the shared design
-- names it, so that this branch (the dispatcher, its tests) runs on its own. At merge, H1b's file
-- of the same name wins; this one goes.
create table webhook_endpoints (
  id text primary key,
  merchant_id text not null,
  url text not null,
  description text,
  enabled_events text[] not null default '{*}',
  disabled boolean not null default false,
  disabled_reason text,
  secret_sealed text not null,
  previous_secret_sealed text,
  previous_secret_expires_at timestamptz,
  failing_since timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoints_merchant on webhook_endpoints (merchant_id);
