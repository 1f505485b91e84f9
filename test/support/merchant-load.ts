// Merchants paying under load, as real merchants do when something fails: every request carries an
// Idempotency-Key, and a connection error, a timeout or a 503 is retried with the same key and body,
// against the next gateway. Each client creates a payment, waits for it to be authorized, captures
// it and waits for the capture; what the clients saw (retries, errors, 202s, latencies) is counted.
import { setTimeout as delay } from "node:timers/promises";
import { paymentBody } from "./platform.ts";

export type Tally = {
  requests: number;
  /** Retries after a connection error (refused, reset, socket closed). */
  connectionErrors: number;
  /** Of those, the requests cut after they were sent (the connection dropped, not refused). */
  cut: number;
  /** Retries after the client's own timeout. */
  timeouts: number;
  /** Retries after a 503 (or 502/504). */
  unavailable: number;
  /** 202 answers (accepted, not at rest yet). */
  accepted: number;
  /** Answers other than 2xx and 503 (each a failure of the run). */
  unexpected: string[];
};

export const newTally = (): Tally => ({
  requests: 0,
  connectionErrors: 0,
  cut: 0,
  timeouts: 0,
  unavailable: 0,
  accepted: 0,
  unexpected: [],
});

export type Answer = { status: number; body: Record<string, unknown> & { id?: string; status?: string } };

const RETRY_STATUSES = new Set([502, 503, 504]);

export class MerchantClient {
  constructor(
    /** The gateways to try, in turn; read at each attempt (a test may change them). */
    private readonly gateways: () => string[],
    private readonly key: string,
    readonly tally: Tally = newTally(),
    private readonly opts: { requestTimeoutMs?: number; giveUpAfterMs?: number } = {},
  ) {}

  /**
   * One request, repeated until it gets an answer that is not "unavailable": same method, path,
   * body and Idempotency-Key each time; the next gateway after a failure; a short backoff (100 ms
   * doubling to 1 s), as a merchant's client would.
   */
  async request(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<Answer> {
    const giveUpAt = Date.now() + (this.opts.giveUpAfterMs ?? 60_000);
    let backoff = 100;
    for (let attempt = 0; ; attempt++) {
      const urls = this.gateways();
      const base = urls[attempt % urls.length];
      if (base === undefined) throw new Error("no gateway to send to");
      this.tally.requests++;
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.key}`,
            ...(body !== undefined && { "content-type": "application/json" }),
            ...(idempotencyKey !== undefined && { "idempotency-key": idempotencyKey }),
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 15_000),
        });
        const text = await res.text();
        if (!RETRY_STATUSES.has(res.status))
          return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer["body"] };
        this.tally.unavailable++;
      } catch (err) {
        if ((err as Error).name === "TimeoutError") this.tally.timeouts++;
        else {
          this.tally.connectionErrors++;
          if ((err as { cause?: { code?: string } }).cause?.code !== "ECONNREFUSED") this.tally.cut++;
        }
      }
      if (Date.now() > giveUpAt) throw new Error(`${method} ${path}: still unavailable after retrying`);
      await delay(backoff); // the merchant's retry backoff, not a synchronisation
      backoff = Math.min(1_000, backoff * 2);
    }
  }

  /** GET the payment until `ok` holds of it (each GET retried as above). */
  async untilStatus(id: string, ok: (status: string) => boolean, timeoutMs = 30_000): Promise<Answer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.request("GET", `/v1/payments/${id}`);
      if (res.status === 200 && ok(String(res.body.status))) return res;
      if (Date.now() > deadline)
        throw new Error(
          `payment ${id}: still ${String(res.body.status ?? res.status)} after ${timeoutMs} ms`,
        );
      await delay(50);
    }
  }
}

/** One payment as its merchant saw it. */
export type Paid = {
  key: string;
  id: string;
  /** The create's first non-retried answer (201 or 202). */
  createStatus: number;
  captureStatus: number;
  startedAt: number;
  /** When the client saw it captured. */
  doneAt: number;
};

/** Create (manual capture) → authorized → capture → captured, each step retried as a merchant would. */
export async function payAndCapture(client: MerchantClient, key: string, amount: number): Promise<Paid> {
  const startedAt = Date.now();
  const body = paymentBody({ amount, capture: "manual" });
  const created = await client.request("POST", "/v1/payments", body, key);
  if (created.status === 202) client.tally.accepted++;
  const id = created.body.id;
  if ((created.status !== 201 && created.status !== 202) || id === undefined) {
    client.tally.unexpected.push(`create ${key}: ${created.status} ${JSON.stringify(created.body)}`);
    throw new Error(`create ${key}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  if (created.body.status !== "authorized") await client.untilStatus(id, (s) => s === "authorized");
  const captured = await client.request("POST", `/v1/payments/${id}/capture`, {}, `${key}-capture`);
  if (captured.status === 202) client.tally.accepted++;
  if (captured.status !== 200 && captured.status !== 202) {
    client.tally.unexpected.push(`capture ${id}: ${captured.status} ${JSON.stringify(captured.body)}`);
    throw new Error(`capture ${id}: ${captured.status} ${JSON.stringify(captured.body)}`);
  }
  if (captured.body.status !== "captured") await client.untilStatus(id, (s) => s === "captured");
  return {
    key,
    id,
    createStatus: created.status,
    captureStatus: captured.status,
    startedAt,
    doneAt: Date.now(),
  };
}

export type LoadRun = {
  /** Resolves with every payment of every client once `stop()` was called and all have finished. */
  done: Promise<Paid[]>;
  /** Payments finished so far. */
  finished(): Paid[];
  /** Keys of payments started (finished or not). */
  started(): string[];
  stop(): void;
  tally(): Tally;
};

/**
 * `clients` merchants, each paying one payment after the other (keys `<prefix>-c<n>-<i>`) until
 * `stop()`. A payment that fails after its retries fails the run (its error is thrown by `done`).
 */
export function startLoad(o: {
  clients: number;
  prefix: string;
  gateways: () => string[];
  key: string;
}): LoadRun {
  let stopped = false;
  const finished: Paid[] = [];
  const started: string[] = [];
  const clients = Array.from({ length: o.clients }, () => new MerchantClient(o.gateways, o.key));
  const runs = clients.map(async (client, c) => {
    for (let i = 0; !stopped; i++) {
      const key = `${o.prefix}-c${c}-${i}`;
      started.push(key);
      finished.push(await payAndCapture(client, key, 1_000 + c * 100 + (i % 100)));
    }
  });
  return {
    done: Promise.all(runs).then(() => [...finished]),
    finished: () => [...finished],
    started: () => [...started],
    stop() {
      stopped = true;
    },
    tally: () => sumTallies(clients.map((c) => c.tally)),
  };
}

export function sumTallies(tallies: Tally[]): Tally {
  const sum = newTally();
  for (const t of tallies) {
    sum.requests += t.requests;
    sum.connectionErrors += t.connectionErrors;
    sum.cut += t.cut;
    sum.timeouts += t.timeouts;
    sum.unavailable += t.unavailable;
    sum.accepted += t.accepted;
    sum.unexpected.push(...t.unexpected);
  }
  return sum;
}
