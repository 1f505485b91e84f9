// The V8 flags every Switchyard process runs with: `npm start` and `npm run bench` (package.json),
// the Procfile's roles, the image (deploy/Dockerfile's NODE_OPTIONS) and the bench's Procfile
// children. They must be on the command line (or in NODE_OPTIONS): V8 sizes its heap when the
// isolate starts, and `v8.setFlagsFromString` afterwards changes nothing. A unit test
// (test/unit/node-flags.unit.spec.ts) holds every one of those places to this list.
//
// --max-semi-space-size=64 (MB; V8's default for Node 20 on 64-bit is 16): the young generation a
// payment's short-lived objects are allocated in. Under load a payment lives ~50 ms (its request,
// command, actor turn, frames, PSP call, reply) and its followers' batches ~100 ms; with 16 MB
// semi-spaces the process fills one in a few ms, so objects still in use survive two scavenges and
// are promoted to the old space, where they die as garbage only a mark-compact frees. 64 MB lets
// them die young. Measured (6 December 2026, sixth round, alternated, --only product, 32 clients,
// 8 s, five pairs): 1.70 / 1.81 / 1.66 / 1.56 / 1.61 ms of CPU per payment with the default,
// 1.63 / 1.39 / 1.62 / 1.40 / 1.39 with 64 (−4 to −23 %); the bare flow unchanged (0.29–0.31 ms).
// The cost is memory: up to 2 × 64 MB of young generation per process instead of 2 × 16 (the
// README's phase figures give the RSS it comes to).
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=64"];

/** The flags of NODE_FLAGS this process was not started with (from its argv or NODE_OPTIONS). */
export function missingNodeFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? "").split(/\s+/).filter((s) => s !== "")]);
  return NODE_FLAGS.filter((f) => !given.has(f));
}
