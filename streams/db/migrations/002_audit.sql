-- The operators' audit trail: a projection of the AUDIT stream (append-only there), for queries by
-- operator, action and time.
create table audit_log (
  seq bigint primary key,
  at timestamptz not null,
  actor text not null,
  action text not null,
  message text not null,
  fields jsonb not null
);
create index audit_log_at on audit_log (at, seq);
create index audit_log_actor on audit_log (actor, at);
create index audit_log_action on audit_log (action, at);
