-- The payments waiting on a 3-D Secure challenge, oldest change first: the expiry sweep
-- (actors/expiry.ts) reads these every few seconds, a handful among millions of payments.
create index payments_requires_action on payments (updated_at) where status = 'requires_action';
