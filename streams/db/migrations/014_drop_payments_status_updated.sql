-- payments_status_updated (status, updated_at) served the first stuck and expiry sweeps; since then the
-- stuck list reads payments_open and the challenge expiry payments_requires_action (both partial, and
-- smaller), and searches by status read payments_status_created. No query needs it any more, and every
-- write of the payments read model — an insert or an update per payment and frame, the busiest table
-- — paid for it: one of its twelve indexes.
drop index if exists payments_status_updated;
