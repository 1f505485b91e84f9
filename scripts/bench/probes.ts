// What the bench drives and reads: a merchant-API client creating payments over keep-alive HTTP
// (the same client for the product and the bare flow), the raw JetStream publisher that is the
// older baseline, and the platform's own histograms (so the report can say where a request's time
// goes, from the inside).
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { createPaymentEnvelope, deriveFingerprintKeys } from "../../gateway/commands.ts";
import { CreatePaymentBody } from "../../gateway/schemas.ts";
import { Header, encode } from "../../streams/envelopes.ts";
import type { Metrics } from "../../config/metrics.ts";
import { rawStreamName } from "./cleanup.ts";
import type { Op } from "./load.ts";

export const PAYMENT_BODY = {
  amount: 2500,
  currency: "EUR",
  capture: "automatic",
  payment_method: {
    type: "card",
    card: { number: "4242424242424242", exp_month: 12, exp_year: 2030, cvc: "123" },
  },
  reference: "bench",
} as const;

/**
 * POST /v1/payments with a fresh Idempotency-Key per call. node:http with a keep-alive agent of C
 * sockets: no connection set-up per request, and less client CPU than fetch on a machine where the
 * client shares the CPU with the platform it measures. Outcome: the HTTP status, plus the payment
 * status for a 201 that is not "captured" (a decline here would mean the bench measures the wrong path).
 */
export function paymentClient(baseUrl: string, apiKey: string, concurrency: number) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify(PAYMENT_BODY);
  const run = randomBytes(4).toString("hex");
  // One counter across phases: a key reused by the measured phase would replay a warm-up payment
  // (idempotency: same answer, no PSP call, no events) and flatter the numbers.
  let next = 0;
  const op: Op = () =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: "/v1/payments",
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${apiKey}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "idempotency-key": `bench-${run}-${next++}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const status = String(res.statusCode ?? 0);
            if (status !== "201") return resolve(status);
            const payment = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { status?: string };
            resolve(payment.status === "captured" ? status : `${status} ${payment.status}`);
          });
        },
      );
      // Far above the gateway's reply wait: a hang here is a bug worth an error line, not a stall.
      req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", reject);
      req.end(body);
    });
  return { op, close: () => agent.destroy() };
}

/** A real CreatePayment command envelope, as the gateway would publish it: the baseline's payload. */
export function sampleCommand(cardKey: Buffer): Uint8Array {
  const envelope = createPaymentEnvelope(
    {
      merchantId: "m_bench",
      idempotencyKey: "bench-sample",
      keys: deriveFingerprintKeys(cardKey),
      at: new Date().toISOString(),
      cardKey,
    },
    // Parsed by the gateway's own schema, so the sample is exactly what the gateway would seal.
    CreatePaymentBody.parse(PAYMENT_BODY),
  );
  return encode(envelope);
}

/**
 * The baseline: awaited `js.publish` into a throwaway file-storage stream, configured like PAY_CMD
 * where it costs the server something (file storage, a 2-minute duplicate window with a unique
 * Nats-Msg-Id, a reply header), spread over 64 subjects like the partitions.
 */
export async function rawPublisher(nc: NatsConnection, prefix: string, payload: Uint8Array): Promise<Op> {
  const base = `${prefix}.bench.raw`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: rawStreamName(prefix),
    subjects: [`${base}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: 1,
    duplicate_window: 2 * 60 * 1_000_000_000,
  });
  const js = jetstream(nc);
  // The headers the gateway sets on a command, so the message is the same size on the wire; one
  // traceparent for all, since random bytes per publish would measure crypto, not JetStream.
  const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
  // One counter across warm-up and measurement: a repeated Nats-Msg-Id would be acknowledged as a
  // duplicate without being stored, which is cheaper and would flatter the baseline.
  let next = 0;
  const op: Op = async () => {
    const seq = next++;
    const h = headers();
    h.set(Header.replyTo, `${base}.reply.${seq}`);
    h.set(Header.traceparent, traceparent);
    const id = `p${seq}`;
    const ack = await js.publish(`${base}.${seq % 64}.${id}`, payload, {
      msgID: id,
      headers: h,
      timeout: 5_000,
    });
    return ack.duplicate ? "duplicate" : "ok";
  };
  return op;
}

type Totals = { sum: number; count: number };

/** Sum and count of a histogram's series whose labels match `where`, from the platform registry. */
export async function histogramTotals(
  metrics: Metrics,
  name: string,
  where: Record<string, string>,
): Promise<Totals> {
  const all = await metrics.registry.getMetricsAsJSON();
  const metric = all.find((m) => m.name === name);
  const totals = { sum: 0, count: 0 };
  for (const v of metric?.values ?? []) {
    const labels = v.labels as Record<string, string | number>;
    if (!Object.entries(where).every(([k, want]) => String(labels[k]) === want)) continue;
    const metricName = (v as { metricName?: string }).metricName;
    if (metricName === `${name}_sum`) totals.sum += v.value;
    else if (metricName === `${name}_count`) totals.count += v.value;
  }
  return totals;
}

/** What the platform measured about itself, as totals, so two readings give the measured window. */
export async function platformTotals(metrics: Metrics) {
  return {
    http: await histogramTotals(metrics, "switchyard_http_request_duration_seconds", {
      method: "POST",
      route: "/v1/payments",
    }),
    command: await histogramTotals(metrics, "switchyard_command_duration_seconds", {
      type: "CreatePayment",
    }),
    psp: await histogramTotals(metrics, "switchyard_psp_request_duration_seconds", {
      operation: "authorize",
    }),
  };
}
export type PlatformTotals = Awaited<ReturnType<typeof platformTotals>>;

/** Nothing observed yet: the start of a sum over several measured windows. */
export const noTotals = (): PlatformTotals => ({
  http: { sum: 0, count: 0 },
  command: { sum: 0, count: 0 },
  psp: { sum: 0, count: 0 },
});

/**
 * `acc` plus what was observed between `before` and `after`: the product's measured windows are
 * interleaved with the bare flow's and with warm-ups, so their histograms are summed window by window.
 */
export function addWindow(
  acc: PlatformTotals,
  before: PlatformTotals,
  after: PlatformTotals,
): PlatformTotals {
  const add = (a: Totals, b0: Totals, b1: Totals) => ({
    sum: a.sum + b1.sum - b0.sum,
    count: a.count + b1.count - b0.count,
  });
  return {
    http: add(acc.http, before.http, after.http),
    command: add(acc.command, before.command, after.command),
    psp: add(acc.psp, before.psp, after.psp),
  };
}

/** Mean in ms of each histogram between two readings (NaN when nothing was observed). */
export function meansMs(before: PlatformTotals, after: PlatformTotals) {
  const mean = (a: Totals, b: Totals) => ((b.sum - a.sum) / (b.count - a.count)) * 1000;
  return {
    httpMs: mean(before.http, after.http),
    commandMs: mean(before.command, after.command),
    pspAuthorizeMs: mean(before.psp, after.psp),
    observed: {
      http: after.http.count - before.http.count,
      command: after.command.count - before.command.count,
      psp: after.psp.count - before.psp.count,
    },
  };
}
