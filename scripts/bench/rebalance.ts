// The workers mode's kill (scripts/bench/workers.ts, issue 19's "rebalance time after a kill"): the
// Procfile roles with N >= 2 workers under a closed loop of C clients, one worker SIGKILLed as a crash
// would, and the clock from the kill until payments flow again for every partition. Measured from
// the client's side only (it spawns and kills processes, nothing more), so the same code measures
// today's shared consumers — a killed worker's in-flight commands come back after the command ack
// wait — and partition ownership by KV lease, where its partitions move within the lease TTL.
//
// Recovered means: every request of the load in flight at the kill has been answered (201, or 202
// after the gateway's reply wait), and a fresh burst of payments spread over all partitions — one per
// partition, sent from the moment of the kill beside the load; the payment id derives from the
// Idempotency-Key, so the bench picks keys that land on each partition — has answered 201 for every
// partition (a partition answering 202 gets a probe in the next burst, sent once the burst is
// answered). Also: the longest a client waited, and when the rate of 201s over one second was back
// to 90 % of the rate before the kill (with one worker fewer maybe never: the rate it settles at is
// reported). Afterwards the payments answered 202 are read back (GET /v1/payments/:id) until each is
// at rest: when the killed worker's commands were finished.
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { RESTING, type PaymentStatus } from "../../actors/payment/core/state.ts";
import { fnv1a32 } from "../../streams/topology.ts";
import { errorText } from "./load.ts";
import { PAYMENT_BODY } from "./probes.ts";

export type RebalanceInput = {
  url: string;
  apiKey: string;
  concurrency: number;
  partitions: number;
  /** The bench merchant (payment ids derive from it and the Idempotency-Key). */
  merchantId: string;
  /** Workers running before the kill. */
  workers: number;
  /** SIGKILL one worker; resolves once it has exited. */
  kill(): Promise<void>;
  /** Give up waiting (for the recovery, then for the 202s at rest) this long after the kill. */
  limitMs: number;
  signal: AbortSignal;
  say: (line: string) => void;
};

export type Rebalance = {
  workersBefore: number;
  partitions: number;
  /** 201s per second over the 3 s before the kill. */
  rateBefore: number;
  inFlightAtKill: number;
  /** The answers of the requests in flight at the kill, by status. */
  inFlightAnswers: Record<string, number>;
  /** Seconds from the kill until the last request in flight at the kill was answered. */
  inFlightAnsweredS: number | null;
  /** Seconds from the kill until every partition had answered 201 to a probe of the bursts. */
  allPartitionsS: number | null;
  /** Partitions that did, within the limit. */
  partitionsFlowing: number;
  /** Bursts sent (the first at the kill; the next once one is answered, to the partitions still owed a 201). */
  bursts: number;
  /** The later of the two above: the rebalance time. */
  rebalanceS: number | null;
  /** The longest a client waited for an answer, among requests in flight at the kill or sent after. */
  longestWaitMs: number;
  /** Seconds from the kill until one second's 201s reached 90 % of the rate before it. */
  fullRateS: number | null;
  /** 201s per second over the last 2 s (at most) before the load stopped. */
  rateAfter: number;
  /** Payments answered 202 (not at rest within the reply wait) from the kill on. */
  answered202: number;
  /** Seconds from the kill until the last of them was at rest (read back every 250 ms). */
  atRestS: number | null;
  /** Of them, not at rest when the limit came. */
  notAtRest: number;
  /** Answers other than 201 and 202 (errors, timeouts) from the kill on. */
  otherAnswers: Record<string, number>;
  limitS: number;
};

type Answer = { status: number; id?: string; payment?: string; error?: string };

/** What answers the bench's payments: POST and GET over one keep-alive agent. */
function httpClient(baseUrl: string, apiKey: string, sockets: number) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const body = JSON.stringify(PAYMENT_BODY);
  const call = (method: "POST" | "GET", path: string, key = "") =>
    new Promise<Answer>((resolve) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${apiKey}` };
      if (method === "POST") {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(body);
        headers["idempotency-key"] = key;
      }
      const req = request({ host: url.hostname, port: url.port, path, method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => resolve({ status: 0, error: errorText(err) }));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          try {
            const p = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: string; status?: string };
            resolve({ status, id: p.id, payment: p.status });
          } catch {
            resolve({ status });
          }
        });
      });
      // Above the gateway's reply wait (10 s by default): a hang is an answer of its own here.
      req.setTimeout(60_000, () => req.destroy(new Error("no answer within 60 s")));
      req.on("error", (err) => resolve({ status: 0, error: errorText(err) }));
      req.end(method === "POST" ? body : undefined);
    });
  return {
    create: (key: string) => call("POST", "/v1/payments", key),
    read: (id: string) => call("GET", `/v1/payments/${encodeURIComponent(id)}`),
    close: () => agent.destroy(),
  };
}

/** Fresh Idempotency-Keys, and for a partition one whose payment id lands on it (a pure hash, no I/O). */
function keys(merchantId: string, partitions: number) {
  const run = randomBytes(4).toString("hex");
  let next = 0;
  const spare = new Map<number, string[]>();
  return {
    any: () => `rebalance-${run}-${next++}`,
    for(partition: number): string {
      const kept = spare.get(partition)?.pop();
      if (kept !== undefined) return kept;
      for (;;) {
        const key = `rebalance-${run}-${next++}`;
        const p = fnv1a32(paymentIdFor(merchantId, key)) % partitions;
        if (p === partition) return key;
        spare.set(p, [...(spare.get(p) ?? []), key]);
      }
    },
  };
}

const BEFORE_MS = 3_000;
const TICK_MS = 100;
const FULL_RATE = 0.9;
/** With one worker fewer the old rate may never come back: stop waiting for it this long after the rest. */
const RATE_GRACE_MS = 5_000;

export async function measureRebalance(i: RebalanceInput): Promise<Rebalance> {
  // Sockets for the load's clients and one burst.
  const http = httpClient(i.url, i.apiKey, i.concurrency + i.partitions);
  const key = keys(i.merchantId, i.partitions);
  const ok: number[] = []; // answer times of 201s
  const open = new Set<number>(); // tokens of requests not answered yet
  let atKill = new Set<number>();
  const atKillAnswers: Record<string, number> = {};
  const other: Record<string, number> = {};
  const firstFlow = new Map<number, number>();
  const pending = new Set<string>(); // ids answered 202 from the kill on, not seen at rest yet
  let answered202 = 0;
  let killAt = Infinity;
  let inFlightDoneAt: number | undefined;
  let longestWaitMs = 0;
  let token = 0;
  let stopLoad = false;

  const client = async () => {
    while (!stopLoad && !i.signal.aborted) {
      const t = token++;
      const sent = performance.now();
      open.add(t);
      const a = await http.create(key.any());
      const now = performance.now();
      open.delete(t);
      if (now >= killAt) longestWaitMs = Math.max(longestWaitMs, now - sent);
      if (atKill.delete(t)) {
        const label = a.error ?? String(a.status);
        atKillAnswers[label] = (atKillAnswers[label] ?? 0) + 1;
        if (atKill.size === 0) inFlightDoneAt = now;
      }
      if (a.status === 201) ok.push(now);
      if (now < killAt) continue;
      if (a.status === 202 && a.id !== undefined) {
        pending.add(a.id);
        answered202++;
      } else if (a.status !== 201) {
        const label = a.error ?? String(a.status);
        other[label] = (other[label] ?? 0) + 1;
      }
    }
  };
  // The bursts: one probe per partition still owed a 201, all at once, until none is.
  let bursts = 0;
  const probe = async (p: number) => {
    const sent = performance.now();
    const a = await http.create(key.for(p));
    const now = performance.now();
    longestWaitMs = Math.max(longestWaitMs, now - sent);
    if (a.status === 201) firstFlow.set(p, now);
    else if (a.status === 202 && a.id !== undefined) {
      pending.add(a.id);
      answered202++;
    } else other[a.error ?? String(a.status)] = (other[a.error ?? String(a.status)] ?? 0) + 1;
  };
  const burstsUntilFlowing = async () => {
    while (firstFlow.size < i.partitions && !stopLoad && !i.signal.aborted) {
      bursts++;
      const owed = Array.from({ length: i.partitions }, (_, p) => p).filter((p) => !firstFlow.has(p));
      await Promise.all(owed.map(probe));
    }
  };
  const rateOver = (from: number, to: number) =>
    (ok.filter((t) => t > from && t <= to).length * 1000) / (to - from);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const clients = Array.from({ length: i.concurrency }, () => client());
  let rateBefore = 0;
  let allPartitionsAt: number | undefined;
  let fullRateAt: number | undefined;
  try {
    await sleep(BEFORE_MS);
    const before = performance.now();
    rateBefore = rateOver(before - BEFORE_MS, before);
    killAt = performance.now();
    atKill = new Set(open);
    const inFlightAtKill = atKill.size;
    if (inFlightAtKill === 0) inFlightDoneAt = killAt;
    await i.kill();
    const probing = burstsUntilFlowing();
    clients.push(probing);
    i.say(
      `rebalance: worker SIGKILLed (${i.workers} → ${i.workers - 1}), ${inFlightAtKill} requests in flight, ${rateBefore.toFixed(0)} payments/s before`,
    );
    for (;;) {
      await sleep(TICK_MS);
      const now = performance.now();
      if (allPartitionsAt === undefined && firstFlow.size === i.partitions)
        allPartitionsAt = Math.max(...firstFlow.values());
      if (
        fullRateAt === undefined &&
        now - killAt >= 1000 &&
        rateOver(now - 1000, now) >= FULL_RATE * rateBefore
      )
        fullRateAt = now;
      const rest = inFlightDoneAt !== undefined && allPartitionsAt !== undefined;
      const restAt = Math.max(inFlightDoneAt ?? 0, allPartitionsAt ?? 0);
      if (rest && (fullRateAt !== undefined || now - restAt > RATE_GRACE_MS)) break;
      if (now - killAt > i.limitMs || i.signal.aborted) break;
    }
  } finally {
    stopLoad = true;
  }
  // Before waiting for the clients: one may still wait for an answer the killed worker took along.
  const loadEnd = performance.now();
  const rateAfter = rateOver(Math.max(killAt, loadEnd - 2000), loadEnd);
  await Promise.all(clients);

  // The 202s: read back until at rest, or the limit.
  let atRestAt: number | undefined = pending.size === 0 ? killAt : undefined;
  while (pending.size > 0 && performance.now() - killAt <= i.limitMs && !i.signal.aborted) {
    await Promise.all(
      [...pending].map(async (id) => {
        const a = await http.read(id);
        if (a.status === 200 && RESTING.has(a.payment as PaymentStatus)) pending.delete(id);
      }),
    );
    if (pending.size === 0) atRestAt = performance.now();
    else await sleep(250);
  }
  http.close();
  const s = (t: number | undefined) => (t === undefined ? null : (t - killAt) / 1000);
  return {
    workersBefore: i.workers,
    partitions: i.partitions,
    rateBefore,
    inFlightAtKill: Object.values(atKillAnswers).reduce((n, v) => n + v, 0) + atKill.size,
    inFlightAnswers: atKillAnswers,
    inFlightAnsweredS: s(inFlightDoneAt),
    allPartitionsS: s(allPartitionsAt),
    partitionsFlowing: firstFlow.size,
    bursts,
    rebalanceS:
      inFlightDoneAt === undefined || allPartitionsAt === undefined
        ? null
        : (Math.max(inFlightDoneAt, allPartitionsAt) - killAt) / 1000,
    longestWaitMs,
    fullRateS: s(fullRateAt),
    rateAfter,
    answered202,
    atRestS: s(atRestAt),
    notAtRest: pending.size,
    otherAnswers: other,
    limitS: i.limitMs / 1000,
  };
}
