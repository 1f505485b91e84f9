-- The operators' search by an exact id or PSP reference (GET /ops/payments?q=, the console's first
-- field): the authorization's PSP reference is in the payment's state, every capture, refund and void
-- reference in psp_operations (whose key starts with the PSP, so it cannot find a reference alone).
create index payments_psp_reference on payments ((state ->> 'pspReference')) where state ->> 'pspReference' is not null;
create index psp_operations_reference on psp_operations (psp_reference);
