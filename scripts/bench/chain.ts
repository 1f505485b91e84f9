// `npm run bench:chain`: what the tamper-evident history (streams/chain.ts) costs a payment. Each
// append hashes the bytes it publishes once (SHA-256, node:crypto) and each frame read is hashed
// once; a create writes two frames. Times N hashes of the two frames a real create wrote (captured
// from the platform: 1.4 KB with the routing decision, 0.36 KB with the PSP's answer), several
// runs, medians, and sets them against the product's CPU per payment from the README's benchmark.
// Pure CPU, no services. `npx tsx scripts/bench/chain.ts [--hashes N] [--runs N]` (JSON on the last line).
import { pathToFileURL } from "node:url";
import { chainHash } from "../../streams/chain.ts";
import { encode } from "../../streams/envelopes.ts";

/** The product's CPU per payment, ms (README, Benchmark: 32 clients, logs at info). */
export const PRODUCT_CPU_MS_PER_PAYMENT = 1.06;

// The two frames of one automatic-capture create, as the platform stored them.
const CREATE_FRAME = {"v": 2, "paymentId": "pay_5a5df98d7ab05758be77c103", "firstEventNo": 1, "events": [{"type": "PaymentCreated", "paymentId": "pay_5a5df98d7ab05758be77c103", "merchantId": "m_alpha", "requestFingerprint": "b3e11555bb5445c5091915535e7cec506e51356d97abe9538f1bbd862a809a7d", "amount": 2500, "currency": "EUR", "capture": "automatic", "card": {"brand": "visa", "last4": "4242", "binCountry": "US", "fingerprint": "63d5d8ea0dce3df03ef61da532543034616679e799e3d846f8b19bd59e4d1114", "expMonth": 12, "expYear": 2030}, "reference": "order-1", "at": "2026-12-01T01:49:30.194Z"}, {"type": "PaymentRouted", "decision": {"policyVersions": {"routing": 1, "fees": 1, "retries": 1}, "ruleId": null, "ruleIndex": null, "reason": "no rule matched; fallback", "strategy": "fallback", "candidates": [{"psp": "acme", "eligible": true, "excluded": [], "score": 0, "expectedFee": 98, "circuit": "closed"}, {"psp": "bolt", "eligible": true, "excluded": [], "score": 1, "expectedFee": 83, "circuit": "closed"}], "order": ["acme", "bolt"], "retry": {"cascadeOn": ["soft_decline", "technical"], "maxAttempts": 3, "samePspRetries": 0, "backoffInitialMs": 50, "backoffMultiplier": 2, "backoffMaxMs": 1000}}, "at": "2026-12-01T01:49:30.194Z"}, {"type": "AuthorizationRequested", "attemptNo": 1, "psp": "acme", "idempotencyKey": "pay_5a5df98d7ab05758be77c103.a1", "expectedFee": 98, "trigger": "routed", "at": "2026-12-01T01:49:30.194Z"}], "traceId": "00-72ba83b5ff3d68bdff635129104b2aef-d12e2a016d2e1f6d-01", "prev": "b876202d04a3905a009b9e1932636c631a2cee5f87c7fee1fbcebf7ba28e1b44"}; // prettier-ignore
const RESULT_FRAME = {"v": 2, "paymentId": "pay_5a5df98d7ab05758be77c103", "firstEventNo": 4, "events": [{"type": "PaymentAuthorized", "attemptNo": 1, "pspReference": "ch_QleztWwUEbHMs73Gysji1dS5", "captured": true, "at": "2026-12-01T01:49:30.277Z"}], "traceId": "00-72ba83b5ff3d68bdff635129104b2aef-d12e2a016d2e1f6d-01", "prev": "9ffeba4288f4c89ddce085a4b608551a17933725b127f5906ec3aefc67b055b8"}; // prettier-ignore

export type ChainBenchResult = {
  hashes: number;
  runs: number;
  frameBytes: { create: number; result: number };
  /** Medians over the runs, µs of CPU per hash. */
  usPerHash: { create: number; result: number };
  /** The two appends of a create. */
  usPerPayment: number;
  shareOfPayment: number;
};

function usPerHash(data: Uint8Array, hashes: number): number {
  const start = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < hashes; i++) sink += chainHash(data).length;
  const used = process.cpuUsage(start);
  if (sink !== hashes * 64) throw new Error("unexpected hash length");
  return (used.user + used.system) / hashes;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function benchChain(opts: { hashes?: number; runs?: number } = {}): ChainBenchResult {
  const hashes = opts.hashes ?? 100_000;
  const runs = opts.runs ?? 5;
  const create = encode(CREATE_FRAME);
  const result = encode(RESULT_FRAME);
  usPerHash(create, 10_000); // warm-up
  const c: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < runs; i++) {
    c.push(usPerHash(create, hashes));
    r.push(usPerHash(result, hashes));
  }
  const usPerPayment = median(c) + median(r);
  return {
    hashes,
    runs,
    frameBytes: { create: create.length, result: result.length },
    usPerHash: { create: median(c), result: median(r) },
    usPerPayment,
    shareOfPayment: usPerPayment / 1000 / PRODUCT_CPU_MS_PER_PAYMENT,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const r = benchChain({ hashes: arg("--hashes"), runs: arg("--runs") });
  const us = (n: number) => n.toFixed(2);
  process.stdout.write(
    [
      `chain hash (SHA-256 of the stored frame), ${r.runs} runs x ${r.hashes} hashes, medians, CPU time:`,
      `  create frame  ${r.frameBytes.create} B: ${us(r.usPerHash.create)} us per append`,
      `  result frame  ${r.frameBytes.result} B: ${us(r.usPerHash.result)} us per append`,
      `  a create (2 appends): ${us(r.usPerPayment)} us = ${(r.shareOfPayment * 100).toFixed(2)} % of the product's ${PRODUCT_CPU_MS_PER_PAYMENT} ms CPU per payment`,
      JSON.stringify(r),
      "",
    ].join("\n"),
  );
}
