-- One ingest of a report's content at a time (issue 16, item 6): the same bytes uploaded under two
-- report ids at the same moment both passed the "already taken in?" check and were booked twice. An
-- ingest claims its content here first; a second one under another id is refused (409) until the
-- first is recorded, and then answered as its replay. A claim older than the stale limit (a crashed
-- ingest) may be taken over.
create table if not exists settlement_ingest_claims (
  psp text not null,
  content_sha256 text not null,
  report_id text not null,
  claimed_at timestamptz not null default now(),
  primary key (psp, content_sha256)
);
