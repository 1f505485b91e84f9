// The PSP sandbox: one HTTP server simulating two PSPs with different APIs, "acme" (Stripe-like, under
// /acme/v1) and "bolt" (Adyen-like, under /bolt), so adapters really map. Tests start it in-process
// with startSandbox(); `tsx scripts/sandbox-psp.ts` runs it as its own process (the Procfile role).
// It also exposes its records and run-time behaviour under /_sandbox for tests that run it out of
// process. The money rules are in sandbox/simulator.ts, the wire formats in sandbox/acme.ts and bolt.ts.
//
// Degrade controls, per simulated PSP, at run time (setBehaviour in process, or over HTTP):
//   POST   /_sandbox/psps/:psp/behaviour  {json patch, any subset}  → { psp, behaviour }
//   GET    /_sandbox/psps/:psp/behaviour                            → { psp, behaviour, requests }
//   DELETE /_sandbox/psps/:psp/behaviour  back to the defaults      → { psp, behaviour }
// The patch fields (snake_case spellings failure_rate, timeout_rate, latency_ms are accepted too):
//   latencyMs    added to every answer of this PSP (0–600000)
//   outage       every endpoint answers the PSP's 503 "not processed" and changes nothing
//   failureRate  share 0–1 of authorizations answered with that same 503, nothing done (1 = all)
//   timeoutRate  share 0–1 of requests processed as usual whose answer is then held back for the
//                slow delay (slowCardDelayMs): the client times out, status still finds the charge
//   fault        "none" | "http_500" | "garbled" | "reset": the request is processed, its answer lost
// Settlement controls (sandbox/settlement-routes.ts): POST /_sandbox/psps/:psp/settlements closes the
// PSP's next batch from what it captured and refunded (optionally with discrepancies), GET lists the
// reports, GET …/settlements/<report_id>.csv serves one in the PSP's own format.
// Notifications (sandbox/notifier.ts, notification-routes.ts, challenge.ts): what happens after a call
// — a 3-D Secure challenge completed (the page at the charge's actionUrl, or POST /_sandbox/3ds/:id
// {"result":"approve"|"fail"}), an asynchronous refund ending (behaviour asyncRefunds, refundsFail),
// a chargeback opened or closed (POST /_sandbox/psps/:psp/disputes, …/disputes/:id/close; the card
// 4000000000000259 opens one by itself once captured) — is POSTed, signed each PSP's way, to
// `<notifyUrl>/<psp>` with retries; GET /_sandbox/notifications lists them, …/replay and …/forge
// resend one correctly or wrongly signed.
// `requests` counts what reached the PSP's handling ({ total, authorizations }), so a test can see
// that a client stopped calling. Shares are drawn with Math.random (a simulated external system),
// or with SandboxOptions.random when given.
import { setMaxListeners } from "node:events";

import Fastify from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import { acmeRoutes } from "./sandbox/acme.ts";
import { boltRoutes } from "./sandbox/bolt.ts";
import type { SandboxContext } from "./sandbox/exchange.ts";
import {
  defaultBehaviour,
  Fault,
  randomId,
  SimulatedPsp,
  type Behaviour,
  type Charge,
  type RequestCounts,
} from "./sandbox/simulator.ts";
import { defaultFeePolicy, settlementRoutes } from "./sandbox/settlement-routes.ts";
import { loadState } from "./sandbox/state-file.ts";
import { StateJournal, type CompactionTerms, type StateStats } from "./sandbox/state-journal.ts";
import { DEV_NOTIFICATION_SECRETS, type NotificationSecrets } from "../config/env.ts";
import { challengeRoutes } from "./sandbox/challenge.ts";
import { completeRefund, isRefused, openDispute } from "./sandbox/later.ts";
import { acmeSigner, boltSigner, withBasicAuth } from "./sandbox/notices.ts";
import { Notifier, type RetryTerms, type SentNotice } from "./sandbox/notifier.ts";
import { notificationRoutes } from "./sandbox/notification-routes.ts";

export type { Behaviour, Charge, ChargeStatus, Fault, RequestCounts } from "./sandbox/simulator.ts";

export type SandboxOptions = {
  port?: number;
  host?: string;
  /** Initial latency of both PSPs; change it per PSP with setBehaviour. */
  latencyMs?: number;
  /** How long the slow test card 4000000000000077 holds back its answer (default 10 s). */
  slowCardDelayMs?: number;
  /** Server warnings and errors go here when given; silent otherwise (tests). */
  logger?: Logger;
  /**
   * Keep the charges and stored answers in this JSON file across restarts, as a real PSP would
   * (`npm start` uses `<dataDir>/sandbox-psp.json`), and the changes since in a journal beside it
   * (`sandbox-psp.journal.jsonl`): sandbox/state-file.ts. In memory only when absent.
   */
  stateFile?: string;
  /** When the journal is folded into a new snapshot (defaults: 2× the snapshot, at least 256 KiB). */
  stateCompaction?: CompactionTerms;
  /** Draws for failureRate and timeoutRate, in [0, 1); Math.random when absent. */
  random?: () => number;
  /**
   * Where the PSPs send their notifications: `<notifyUrl>/<psp>` (the platform's /webhooks/psp), or
   * per PSP a full URL in `notifyUrls`. Settable later (setNotifyUrl, POST /_sandbox/notifications).
   */
  notifyUrl?: string;
  notifyUrls?: Partial<Record<string, string>>;
  /** The PSPs' retries of a notification not answered 2xx (default 0.5 s doubling, 8 tries). */
  notifyRetry?: RetryTerms;
  /** The signing secrets (the development ones, which the connectors default to, when absent). */
  notificationSecrets?: Partial<NotificationSecrets>;
  /** How long an asynchronous refund or the dispute card's chargeback takes (default 200 ms). */
  laterMs?: number;
  /** Charges each PSP keeps, the newest (default: all); see SimulatedPsp. SANDBOX_RETAIN_CHARGES. */
  retainCharges?: number;
};

export type ChargeFilter = { reference?: string; psp?: string };

export type Sandbox = {
  url: string;
  close(): Promise<void>;
  charges(filter?: ChargeFilter): Charge[];
  setBehaviour(psp: string, b: Partial<Behaviour>): void;
  behaviour(psp: string): Behaviour;
  /** Back to the defaults (the latency the sandbox was started with, nothing degraded). */
  resetBehaviour(psp: string): void;
  requests(psp: string): RequestCounts;
  /** `<url>/<psp>` for every PSP; undefined stops sending. */
  setNotifyUrl(url: string | undefined): void;
  notifications(filter?: { psp?: string; reference?: string }): SentNotice[];
  /** What the persistence wrote (bytes, compactions); undefined without a state file. */
  persistence(): StateStats | undefined;
  /** Charges let go of by the retention bound, over every PSP. */
  forgotten(): number;
};

const SNAKE_CASE: Readonly<Record<string, keyof Behaviour>> = {
  latency_ms: "latencyMs",
  failure_rate: "failureRate",
  timeout_rate: "timeoutRate",
};
const Share = z.number().min(0).max(1);
const BehaviourPatch = z.preprocess(
  (v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [SNAKE_CASE[k] ?? k, x]))
      : v,
  z
    .object({
      latencyMs: z.number().int().min(0).max(600_000),
      outage: z.boolean(),
      fault: z.enum(Fault),
      failureRate: Share,
      timeoutRate: Share,
      asyncRefunds: z.boolean(),
      refundsFail: z.boolean(),
    })
    .partial()
    .strict(),
);
const ChargeQuery = z.object({ reference: z.string().optional(), psp: z.string().optional() });

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const closing = new AbortController();
  // Every held-back answer listens on this one signal: many at once is the normal case.
  setMaxListeners(0, closing.signal);
  const psps = new Map<string, SimulatedPsp>([
    ["acme", new SimulatedPsp("acme", () => randomId("ch_", 24), opts.retainCharges)],
    ["bolt", new SimulatedPsp("bolt", () => randomId("", 16).toUpperCase(), opts.retainCharges)],
  ]);
  const initialBehaviour = (): Behaviour => ({ ...defaultBehaviour(), latencyMs: opts.latencyMs ?? 0 });
  for (const psp of psps.values()) psp.behaviour = initialBehaviour();
  let journal: StateJournal | undefined;
  if (opts.stateFile !== undefined) {
    const loaded = loadState(opts.stateFile);
    for (const warning of loaded.warnings) opts.logger?.warn({ stateFile: opts.stateFile }, warning);
    for (const [name, record] of loaded.records) psps.get(name)?.restore(record);
    const j = new StateJournal(
      opts.stateFile,
      loaded,
      () => new Map([...psps].map(([name, psp]) => [name, psp.record()])),
      (err: unknown) => opts.logger?.error({ err }, "sandbox state could not be written"),
      opts.stateCompaction,
    );
    opts.logger?.debug(
      { stateFile: opts.stateFile, replayed: loaded.replayed, ...j.statistics() },
      "sandbox state loaded",
    );
    for (const [name, psp] of psps) psp.onChange = (change) => j.changed(name, change);
    journal = j;
  }
  const now = () => new Date();
  // A simulator signs with the published development secrets unless told otherwise: what matters is
  // what the gateway verifies with, and a production gateway never takes these (config/env.ts).
  const secrets = {
    acmeWebhookSecret:
      opts.notificationSecrets?.acmeWebhookSecret ?? DEV_NOTIFICATION_SECRETS.acmeWebhookSecret,
    boltHmacKey: opts.notificationSecrets?.boltHmacKey ?? DEV_NOTIFICATION_SECRETS.boltHmacKey,
  };
  const notifier = new Notifier(
    new Map([
      [
        "acme",
        withBasicAuth(acmeSigner(secrets.acmeWebhookSecret), opts.notificationSecrets?.basicAuth?.acme),
      ],
      ["bolt", withBasicAuth(boltSigner(secrets.boltHmacKey), opts.notificationSecrets?.basicAuth?.bolt)],
    ]),
    {
      ...(opts.notifyUrl !== undefined && { url: opts.notifyUrl }),
      ...(opts.notifyUrls !== undefined && { urls: opts.notifyUrls }),
      ...(opts.notifyRetry !== undefined && { retry: opts.notifyRetry }),
      closing: closing.signal,
      now,
      ...(opts.logger && { log: opts.logger }),
    },
  );
  // Later happenings wait on timers the close cancels.
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, opts.laterMs ?? 200);
    timers.add(t);
  };
  const ctx: SandboxContext = {
    closing: closing.signal,
    slowCardDelayMs: opts.slowCardDelayMs ?? 10_000,
    now,
    random: opts.random ?? Math.random,
    refundLater(psp, chargeId, refundId) {
      const succeeds = psp.behaviour.refundsFail !== true;
      later(() => {
        const h = completeRefund(psp, chargeId, refundId, succeeds, now());
        if (!isRefused(h)) notifier.notify(psp.name, h);
      });
    },
  };
  for (const psp of psps.values())
    psp.onCaptured = (charge) => {
      if (charge.disputeAfterCapture && !charge.disputes?.length)
        later(() => {
          const h = openDispute(psp, charge.id, { reason: "fraudulent" }, now());
          if (!isRefused(h)) notifier.notify(psp.name, h);
        });
    };

  const charges = (filter: ChargeFilter = {}): Charge[] =>
    [...psps.values()]
      .filter((p) => filter.psp === undefined || p.name === filter.psp)
      .flatMap((p) => p.charges())
      .filter((c) => filter.reference === undefined || c.reference === filter.reference)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));

  const pspNamed = (name: string): SimulatedPsp => {
    const psp = psps.get(name);
    if (!psp) throw new RangeError(`no sandbox PSP named ${name}`);
    return psp;
  };
  const setBehaviour = (name: string, b: Partial<Behaviour>): void => {
    const psp = pspNamed(name);
    psp.behaviour = { ...psp.behaviour, ...BehaviourPatch.parse(b) };
  };
  const resetBehaviour = (name: string): void => {
    pspNamed(name).behaviour = initialBehaviour();
  };
  const behaviour = (name: string): Behaviour => ({ ...pspNamed(name).behaviour });
  const requests = (name: string): RequestCounts => ({ ...pspNamed(name).requests });

  // forceCloseConnections: a delayed answer (slow card, latency) must not hold close() up. Fastify's
  // own per-request lines are kept below warn: the sandbox's log is its URL and its failures.
  const app = Fastify({
    forceCloseConnections: true,
    ...(opts.logger ? { loggerInstance: opts.logger.child({}, { level: "warn" }) } : { logger: false }),
  });
  await app.register(acmeRoutes(psps.get("acme")!, ctx), { prefix: "/acme/v1" });
  await app.register(boltRoutes(psps.get("bolt")!, ctx), { prefix: "/bolt" });
  await app.register(settlementRoutes(psps, defaultFeePolicy(), () => ctx.now()));
  await app.register(challengeRoutes(psps, notifier, now));
  await app.register(notificationRoutes(psps, notifier, now));

  app.get("/_sandbox/charges", async (req, reply) => {
    const query = ChargeQuery.safeParse(req.query);
    if (!query.success) return reply.code(400).send({ error: "bad query" });
    const { reference, psp } = query.data;
    return { charges: charges({ ...(reference ? { reference } : {}), ...(psp ? { psp } : {}) }) };
  });
  app.post("/_sandbox/psps/:psp/behaviour", async (req, reply) => {
    const { psp } = req.params as { psp: string };
    const patch = BehaviourPatch.safeParse(req.body ?? {});
    if (!psps.has(psp)) return reply.code(404).send({ error: `no sandbox PSP named ${psp}` });
    if (!patch.success) return reply.code(400).send({ error: z.prettifyError(patch.error) });
    setBehaviour(psp, patch.data);
    return { psp, behaviour: behaviour(psp) };
  });
  app.get("/_sandbox/psps/:psp/behaviour", async (req, reply) => {
    const { psp } = req.params as { psp: string };
    if (!psps.has(psp)) return reply.code(404).send({ error: `no sandbox PSP named ${psp}` });
    return { psp, behaviour: behaviour(psp), requests: requests(psp) };
  });
  app.delete("/_sandbox/psps/:psp/behaviour", async (req, reply) => {
    const { psp } = req.params as { psp: string };
    if (!psps.has(psp)) return reply.code(404).send({ error: `no sandbox PSP named ${psp}` });
    resetBehaviour(psp);
    return { psp, behaviour: behaviour(psp) };
  });

  await app.listen({ port: opts.port ?? 0, host: opts.host ?? "127.0.0.1" });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("sandbox has no TCP address");
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    charges,
    setBehaviour,
    behaviour,
    resetBehaviour,
    requests,
    setNotifyUrl: (url) => notifier.setUrl(url),
    notifications: (filter) => notifier.list(filter),
    persistence: () => journal?.statistics(),
    forgotten: () => [...psps.values()].reduce((n, psp) => n + psp.forgotten, 0),
    close: async () => {
      closing.abort();
      for (const t of timers) clearTimeout(t);
      await notifier.drain();
      await app.close();
      await journal?.close();
    },
  };
}
