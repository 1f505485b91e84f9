-- Frames a follower could not apply and went on without (streams/db/set-aside.ts): a payment event
-- frame whose text PostgreSQL refuses (a NUL, a lone surrogate), a record nobody can decode. Written
-- in the same transaction that moves the follower's position past the frame, so a frame is never
-- both skipped and unrecorded. The frame itself stays in its stream (the record); only where it is
-- and why it was refused are kept here, never its content.
create table follower_set_aside (
  follower text not null,
  stream text not null,
  seq bigint not null,
  subject text not null,
  appended_at timestamptz not null,
  -- the SQLSTATE PostgreSQL answered (22021, 22P02, 22P05, 54000…), or undecodable / unreadable
  code text not null,
  reason text not null,
  set_aside_at timestamptz not null default now(),
  primary key (follower, seq)
);
create index follower_set_aside_recent on follower_set_aside (set_aside_at desc);

-- A rebuild's target (the stream's last sequence when it was asked for): the read model is
-- rebuilding while its position is below it. A follower whose batches keep failing (the database
-- refusing for another reason than one frame's data) says since when and why.
alter table projection_offsets
  add column rebuild_to bigint,
  add column failing_since timestamptz,
  add column last_error text;
