-- Indexes for the operators' search (actors/projections/search.ts) at a million payments and more:
-- each filter an operator uses without a merchant gets an index that either finds its rows directly
-- (reference, amount) or walks them newest first with the filter's equality columns in front, so a
-- page stops after `limit` rows instead of reading the table. Measured by `npm run bench -- --only
-- search` (scripts/bench/search.ts).
create index payments_reference on payments (reference) where reference is not null;
create index payments_last4_currency_created on payments (last4, currency, created_at desc, id desc);
create index payments_psp_status_created on payments (psp, status, created_at desc, id desc);
create index payments_status_created on payments (status, created_at desc, id desc);
create index payments_amount on payments (amount);
