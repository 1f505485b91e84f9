-- The merchant events feed (PAY_OUT, actors/webhooks/merchant-feed.ts) reads webhook_events in
-- stream order past its position: (seq, idx) is that order.
create index if not exists webhook_events_seq on webhook_events (seq, idx);
