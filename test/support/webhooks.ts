// Webhook test helpers: a real HTTP receiver on a free port that records what arrives (and answers
// what the test says), verifying each delivery with the official `standardwebhooks` package as a
// merchant would; and webhook endpoints created through the platform's endpoint store.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { WebhookEndpointStore } from "../../actors/webhooks/endpoints.ts";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { DATABASE_URL } from "./infra.ts";

export type Received = {
  id: string;
  timestamp: string;
  signature: string;
  headers: IncomingHttpHeaders;
  body: string;
  event: { id: string; type: string; created: string; data: { object: PaymentView } };
  /** The answer the receiver gave (or holds). */
  status: number;
  /** Whether that answer went out: false while held, and for good when the sender was gone by then. */
  answered: boolean;
  at: number;
};

export type Receiver = {
  url: string;
  /** Every request, in arrival order (answered 2xx or not). */
  all: Received[];
  /** The deliveries answered 2xx (the answer sent, not held), verified with the endpoint's secret. */
  ok(): Received[];
  /** What to answer next (default 200). */
  answer(fn: (r: { id: string; type: string }) => number): void;
  /** How long to wait before answering (default 0). */
  delay(ms: number): void;
  /**
   * Leave every request from the `after`-th arrival on (counting from 0) unanswered — held open, in
   * flight for the sender — until release(): a test can then act while deliveries are certainly
   * under way, instead of slowing answers down and hoping.
   */
  holdFrom(after: number): void;
  /** The requests held unanswered now. */
  held(): number;
  /** Answer every held request (a sender that died meanwhile gets nothing) and hold no more. */
  release(): void;
  /**
   * The connections open to the receiver now. Zero after a sender was killed means every byte it sent
   * has been read: a request that reached the receiver before the kill is in `all` by then.
   */
  connections(): Promise<number>;
  close(): Promise<void>;
};

export async function startReceiver(secret: () => string | undefined): Promise<Receiver> {
  const all: Received[] = [];
  let answer: (r: { id: string; type: string }) => number = () => 200;
  let delayMs = 0;
  let holdFrom = Infinity;
  const held: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const h = req.headers;
      const one = (name: string) => String(h[name] ?? "");
      const event = JSON.parse(body) as Received["event"];
      const s = secret();
      // Verified as a merchant would; an unverifiable request is answered 400 (and recorded).
      let status = 400;
      try {
        if (s === undefined) throw new Error("no secret");
        new Webhook(s).verify(body, {
          "webhook-id": one("webhook-id"),
          "webhook-timestamp": one("webhook-timestamp"),
          "webhook-signature": one("webhook-signature"),
        });
        status = answer({ id: event.id, type: event.type });
      } catch {
        status = 400;
      }
      const received: Received = {
        id: one("webhook-id"),
        timestamp: one("webhook-timestamp"),
        signature: one("webhook-signature"),
        headers: h,
        body,
        event,
        status,
        answered: false,
        at: Date.now(),
      };
      all.push(received);
      const reply = () => {
        // A held request whose sender died meanwhile: the answer would go nowhere.
        if (req.socket.destroyed) return;
        res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "not now");
        received.answered = true;
      };
      if (all.length > holdFrom) held.push(reply);
      else if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("receiver has no port");
  return {
    url: `http://127.0.0.1:${address.port}/hooks`,
    all,
    ok: () => all.filter((r) => r.answered && r.status >= 200 && r.status < 300),
    answer: (fn) => {
      answer = fn;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    holdFrom: (after) => {
      holdFrom = after;
    },
    held: () => held.length,
    connections: () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      ),
    release: () => {
      holdFrom = Infinity;
      for (const reply of held.splice(0)) reply();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A client of the run's schema (named from the prefix, as config/env.ts does). */
export function runSql(env: Record<string, string>): postgres.Sql {
  const schema = `sy_${(env.SWITCHYARD_PREFIX ?? "").toLowerCase()}`;
  return postgres(env.DATABASE_URL ?? DATABASE_URL, {
    max: 2,
    onnotice: () => undefined,
    connection: { search_path: schema },
  });
}

/** An endpoint of `merchantId`, created by the platform's own store (secret sealed with the run's card key). */
export async function createEndpoint(
  sql: postgres.Sql,
  env: Record<string, string>,
  o: { merchantId: string; url: string; events?: string[] },
): Promise<{ id: string; secret: string }> {
  const store = new WebhookEndpointStore(sql, { keys: [Buffer.from(env.SWITCHYARD_CARD_KEY ?? "", "hex")] });
  const issued = await store.create(o.merchantId, {
    url: o.url,
    enabledEvents: o.events ?? ["*"],
    description: null,
  });
  if (issued.secret === null) throw new Error("a new endpoint comes with its secret");
  return { id: issued.row.id, secret: issued.secret };
}

/**
 * A receiver and one endpoint of `merchantId` subscribed to every event type pointing at it, the
 * receiver verifying each delivery with that endpoint's secret.
 */
export async function startEndpointReceiver(
  sql: postgres.Sql,
  env: Record<string, string>,
  merchantId: string,
): Promise<Receiver> {
  const key: { secret?: string } = {};
  const receiver = await startReceiver(() => key.secret);
  key.secret = (await createEndpoint(sql, env, { merchantId, url: receiver.url })).secret;
  return receiver;
}
