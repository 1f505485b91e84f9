-- Stripe-format webhooks (issue 21): an endpoint chooses the body and signature of its deliveries.
-- `standard` (every existing endpoint): Standard Webhooks, as before; `stripe`: Stripe's event object
-- signed with a `Stripe-Signature` header (actors/webhooks/core/stripe-objects.ts).
alter table webhook_endpoints add column if not exists format text not null default 'standard'
  check (format in ('standard', 'stripe'));
