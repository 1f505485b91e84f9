-- A payments row holds the payment's state as jsonb: ~2.3 KB in jsonb's binary form for a captured
-- card payment, past the ~2 KB at which PostgreSQL compresses a row's wide values. With the default
-- method (pglz) every write of the busiest read model compressed it (to ~1.3 KB) and every read of a
-- state (the follower continuing a payment, GET /v1/payments/:id's search path) decompressed it: in
-- psql, 20,000 inserts of a real state took 1.06–1.49 s with pglz, 0.68 s with lz4, 0.61 s with no
-- compression; 40,000 reads of state->>'status' 141–172 ms, 49–67 ms and 35–64 ms.
--
-- lz4 where the server has it (Debian's and the official images' PostgreSQL do; values written
-- before keep pglz until rewritten). PGlite (the embedded default) is built without lz4: there the
-- row is kept whole up to 4 KB instead (toast_tuple_target), uncompressed — a larger table (~1.7×
-- for these rows) for no compression work on the process's own thread.
do $$
begin
  alter table payments alter column state set compression lz4;
exception when feature_not_supported then
  alter table payments set (toast_tuple_target = 4080);
end
$$;
