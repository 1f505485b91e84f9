// A payment's weight, counted (issue 17, "a guard that cannot drift"). Timings are noisy on a shared
// machine; counts are not. The whole platform as `npm start` runs it (gateway, worker, sandbox; read
// models, the webhook dispatcher with one subscribed endpoint, the janitor, expiry) takes N payments
// from one client, one at a time: create → capture → refund. Each is counted on the platform's own
// clients (streams/wire-counts.ts: NATS messages in and out, JetStream API requests, Redis commands,
// PostgreSQL statements), never server-wide, so other runs sharing the servers do not count. The
// window closes once everything the payments caused has happened — read models applied, webhooks
// delivered and recorded — as seen from separate connections that are not counted. Each figure per
// payment is held to a budget written below: a change that adds a round trip or another reader fails
// here, and raising a budget is a line in the diff that says why.
import { setTimeout as delay } from "node:timers/promises";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import type postgres from "postgres";
import { appendedFrameStats } from "../../actors/projections/frames.ts";
import { PAYMENTS_READ_MODEL } from "../../actors/projections/payments.ts";
import { countWire, wireDelta, type WireCounter, type WireCounts } from "../../streams/wire-counts.ts";
import { gatheredWrites } from "../../streams/nats-transport.ts";
import { NATS_URL } from "../support/infra.ts";
import { paymentBody, startTestPlatform, testEnv, type Api, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { createEndpoint, runSql, startReceiver, type Receiver } from "../support/webhooks.ts";

/** Payments measured, one after another, after the warm-up. */
const N = 20;
const WARM_UP = 3;
/** Webhooks a payment sends its merchant's endpoint: payment.authorized, .captured, .refunded. */
const WEBHOOKS = 3;

/**
 * Per payment (create → capture → refund, its webhooks delivered and recorded, its read models
 * applied), at most. Each is the figure measured on 2026-12-06 (2-core machine, shared; seven runs)
 * rounded up a little; raise one only on purpose, in the diff, saying why. The first two do not
 * depend on timing at all; the others move a little with how frames happen to batch (a read model
 * applies the frames that arrived together in one transaction, the webhook sender claims once per
 * wake-up), so their headroom covers a run where nothing batches.
 */
const BUDGET = {
  /** Frames appended to PAY_EVT: 6, two per command (the intent before the PSP call, its outcome after). */
  framesAppended: 6,
  /**
   * PAY_EVT frames delivered to this process: 6, once each, through the process's event tap
   * (streams/event-tap.ts) that the janitor, the payments read model and the webhook dispatcher share
   * (18 before: each had a consumer of its own).
   */
  eventDeliveries: 6,
  /**
   * NATS messages published: 19.85–21.2 since the worker answers a bus of its own process in memory (the
   * three commands' replies, −3: streams/command-bus.ts replyInProcess); 24.4–24.6 before, since the
   * merchant events feed (issue 20: the 3 merchant events of a payment each published to PAY_OUT,
   * +3); 21.1–21.6 before it (34 with a consumer per reader; 40.4–41.65 when the gateway replayed a
   * payment per follow-up).
   */
  natsOutMsgs: 23,
  /**
   * NATS messages delivered: 25.7–27 with the replies in memory (−3); 30.3–30.35 before, with PAY_OUT's
   * 3 acks (+3); 26.95–27.4 before those (50 with a consumer per reader; 57.1–58.95 before that).
   */
  natsInMsgs: 29,
  /**
   * `$JS.API` requests: 6.15. 2 last-by-subject + 4 direct gets: before capture and refund the actor
   * (at rest, it left memory) replays the payment from PAY_EVT. (11.35–11.85 while the webhook
   * dispatcher was a durable consumer whose ack floor the sender read, ~5.5 consumer infos; 19.45–20.7
   * while the gateway replayed the payment too.)
   */
  jsApi: 8,
  /** Redis commands: 2 (an HGET of the snapshot, found empty, on each of those 2 loads). */
  redisCommands: 2,
  /**
   * SQL statements: 13.75–24 on a quiet machine, up to 34.2 on one loaded by other work (the
   * followers' batches then catch fewer of a payment's frames together): 34.45–37.85 while the
   * dispatcher was a durable consumer; 72.75–74.5 before the read-model follower waited
   * DEFAULT_LINGER_MS for a payment's next frame and stopped re-inserting its offset row in every
   * transaction. Raised by 6 for the merchant events feed (issue 20): a feed round is 2 statements
   * (its position with the events past it, then the position moved), 1.85–2.15 rounds a payment
   * (~4.3), no transaction; measured with it 37.45–39.45 run alone and 42.55 run after other specs on
   * a loaded machine (32.65–40.4 without it the same day). Raised to 52 on 2026-12-06 (fifth
   * round): a follower's batch is now applied at most 100 ms after its first message (before, frames
   * less than 10 ms apart kept one batch open up to 500 frames, the read model seconds behind), which
   * adds ~0.5–0.8 transactions a payment here; measured 18.5–22.75 when the 20 payments take ~0.9 s
   * (12.65–13.85 without the bound, the same minute), and 30–46.25 when this machine slows so that
   * they take 1.2–1.5 s — 30.25–40.4 then with the bound switched off too, so the rest is the speed.
   * 8.65–16.65 on 2026-12-07 (0.63–0.89 s), since the dispatcher hands its new deliveries to the
   * sender of its process, leased as it stores them: no claim statement for a first attempt.
   */
  pgStatements: 52,
  /**
   * Write calls on the platform's NATS sockets (streams/nats-transport.ts gathers a turn's frames
   * into one): 18.1–18.2 (three runs, 2026-12-06), 18.55 with every frame written on its own — one
   * payment at a time, little shares a turn; under the bench's load it is 0.36 per payment (3.3
   * before gathering), which no count here can hold. Also held from below: none at all would mean
   * the platform's connections no longer gather (and nothing is counted).
   */
  natsWrites: 20,
  /**
   * Not per payment: statement texts sent for the first time during the 20 payments (after the
   * warm-up). The followers' multi-row writes have one text whatever the batch's size
   * (`jsonb_to_recordset` of one JSON parameter, streams/db/client.ts rowsParam), so a connection
   * prepares each once: 0 (2026-12-06). With `${tx(rows)}` VALUES lists a text per row count: 21–29,
   * each a Parse and Describe round trip before its Bind.
   */
  pgNewTexts: 3,
  /**
   * SQL transactions: 1.15–2.25 quiet, up to 3.45 loaded (3.95–4.4 before; 8.85–9 with one per frame).
   * Raised to 5.5 with the 100 ms batch bound (see pgStatements): 1.55–2 at ~0.9 s for the 20
   * payments (0.95–1.05 without it), 2.85–4.65 on a slowed machine (2.85–3.95 without it).
   */
  pgTransactions: 5.5,
};

describe("a payment's weight on the wire stays within its budget (e2e)", function () {
  this.timeout(180_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let receiver: Receiver;
  let endpointId: string;
  let merchant: Api;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let counter: WireCounter;

  before(async () => {
    env = testEnv();
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    const key: { secret?: string } = {};
    receiver = await startReceiver(() => key.secret);
    const merchantId = platform.merchants[0]!.merchantId;
    const ep = await createEndpoint(sql, env, { merchantId, url: receiver.url });
    key.secret = ep.secret;
    endpointId = ep.id;
    merchant = platform.api(platform.merchants[0]!);
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    if (platform.infra === undefined) throw new Error("the platform runs no gateway or worker");
    counter = countWire(platform.infra);
  });
  after(async () => {
    counter?.stop();
    await receiver?.close();
    await sql?.end({ timeout: 1 });
    await nc?.close();
    await platform?.cleanup();
  });

  /** create → capture → refund, one call after the other; the payment's id. */
  const pay = async (): Promise<string> => {
    const created = await merchant.post("/v1/payments", paymentBody());
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id;
    const captured = await merchant.post(`/v1/payments/${id}/capture`, {});
    expect(captured.status, JSON.stringify(captured.body)).to.equal(200);
    const refunded = await merchant.post(`/v1/payments/${id}/refunds`, { amount: 2500 });
    expect(refunded.status, JSON.stringify(refunded.body)).to.equal(200);
    return id;
  };

  /**
   * Everything the payments caused has happened, seen from connections the counter does not count:
   * the durable consumers (commands, webhook dispatcher) have nothing pending or unacknowledged, the
   * payments read model has applied PAY_EVT to its head and shows each payment refunded, and every
   * webhook was received and recorded as delivered. (The janitor's ordered consumer does no I/O per
   * frame; ephemeral consumers are not looked at, since a replaced one lingers with frames pending.)
   */
  const settled = async (ids: string[], deliveries: number): Promise<void> => {
    const { prefix } = platform.config;
    let missing = "";
    const check = async (): Promise<boolean> => {
      for (const stream of [`${prefix}_PAY_EVT`, `${prefix}_PAY_CMD`])
        for await (const c of jsm.consumers.list(stream))
          if (c.config.durable_name !== undefined && (c.num_pending > 0 || c.num_ack_pending > 0)) {
            missing = `${stream}/${c.name}: ${c.num_pending} pending, ${c.num_ack_pending} unacknowledged`;
            return false;
          }
      const head = (await jsm.streams.info(`${prefix}_PAY_EVT`)).state.last_seq;
      const [applied] = await sql<{ seq: number }[]>`
        select last_seq::int as seq from projection_offsets where name = ${PAYMENTS_READ_MODEL}`;
      const [refunded] = await sql<{ n: number }[]>`
        select count(*)::int as n from payments where id = any(${ids}) and status = 'refunded'`;
      missing = `read model at ${applied?.seq} of ${head}, ${refunded?.n} of ${ids.length} refunded`;
      if (applied?.seq !== head || refunded?.n !== ids.length) return false;
      const [delivered] = await sql<{ n: number }[]>`
        select count(*)::int as n from webhook_deliveries
        where endpoint_id = ${endpointId} and status = 'succeeded'`;
      missing = `webhooks: ${delivered?.n} recorded delivered, ${receiver.ok().length} received, of ${deliveries}`;
      return (delivered?.n ?? 0) >= deliveries && receiver.ok().length >= deliveries;
    };
    await waitFor(check, { timeoutMs: 60_000, what: "everything the payments caused" }).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}; still missing: ${missing}`);
      },
    );
    expect(receiver.ok().length, "webhooks delivered").to.equal(deliveries);
  };

  it("create, capture and refund cost no more NATS messages, JetStream requests, Redis commands or SQL statements than budgeted", async () => {
    const warm: string[] = [];
    for (let i = 0; i < WARM_UP; i++) warm.push(await pay());
    await settled(warm, WARM_UP * WEBHOOKS);

    const before = counter.read();
    const cpuFrom = process.cpuUsage();
    const started = Date.now();
    const writesFrom = gatheredWrites();
    const framesFrom = appendedFrameStats();
    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push(await pay());
    await settled([...warm, ...ids], (WARM_UP + N) * WEBHOOKS);
    const busy = wireDelta(before, counter.read());
    const busyWrites = gatheredWrites() - writesFrom;
    const framesTo = appendedFrameStats();
    const cpu = process.cpuUsage(cpuFrom);
    const { prefix } = platform.config;
    const ms = Date.now() - started;
    // What the platform does on its own timers (lag gauges, webhook polls, the ops board, position
    // watches) runs whatever the payments do: measured over an idle window as long as the busy one
    // and taken off. A measurement window, not a wait for anything.
    const idleFrom = counter.read();
    const idleWritesFrom = gatheredWrites();
    await delay(ms);
    const idle = wireDelta(idleFrom, counter.read());
    const idleWrites = gatheredWrites() - idleWritesFrom;

    const per = (busyCount: number, idleCount: number) =>
      Math.round(((busyCount - idleCount) / N) * 100) / 100;
    const figures = {
      framesAppended: per(busy.nats.outByKind[`${prefix}.pay.evt`] ?? 0, 0),
      eventDeliveries: per(
        Object.entries(busy.nats.deliveredByConsumer)
          .filter(([k]) => k.startsWith(`${prefix}_PAY_EVT/`))
          .reduce((sum, [, v]) => sum + v, 0),
        0,
      ),
      natsOutMsgs: per(busy.nats.outMsgs, idle.nats.outMsgs),
      natsInMsgs: per(busy.nats.inMsgs, idle.nats.inMsgs),
      jsApi: per(busy.nats.jsApi, idle.nats.jsApi),
      redisCommands: per(busy.redis.commands, idle.redis.commands),
      pgStatements: per(busy.pg.statements, idle.pg.statements),
      pgTransactions: per(busy.pg.transactions, idle.pg.transactions),
      natsWrites: per(busyWrites, idleWrites),
      pgNewTexts: busy.pg.texts,
    };
    report(figures, busy, idle, ms, prefix);
    // Reported, not held to a budget (timings are noisy here): the whole platform's CPU per payment.
    // 72–77 ms with the merchant events feed, 72–81 ms without it (three runs each, 2026-12-06).
    console.log(
      `        CPU per payment (platform and test client, one process): ${((cpu.user + cpu.system) / 1000 / N).toFixed(1)} ms`,
    );
    const over = Object.entries(BUDGET)
      .filter(([name, budget]) => figures[name as keyof typeof BUDGET] > budget)
      .map(([name, budget]) => `${name} ${figures[name as keyof typeof BUDGET]} (budget ${budget})`);
    expect(over, "per payment, over budget").to.deep.equal([]);
    expect(figures.natsWrites, "NATS write calls per payment: the platform's connections gather").to.be.above(
      1,
    );
    // The frames the worker appended reach the followers of its process as read, not parsed again
    // (actors/projections/frames.ts): every one is remembered (the decider writes plain JSON), and
    // the followers take nearly all (one read before its append's ack came back is parsed instead).
    const remembered = framesTo.remembered - framesFrom.remembered;
    const taken = framesTo.taken - framesFrom.taken;
    console.log(`        frames appended here and read from memory: ${taken} of ${remembered} remembered`);
    expect(remembered, "frames remembered").to.equal(figures.framesAppended * N);
    expect(taken, "frames the followers read from memory").to.be.at.least(Math.ceil(remembered * 0.9));
  });
});

function report(
  figures: Record<string, number>,
  w: WireCounts,
  idle: WireCounts,
  ms: number,
  prefix: string,
): void {
  const per = (m: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(m)
        .sort(([, a], [, b]) => b - a)
        .map(([k, v]) => [
          k.replaceAll(`${prefix}_`, "").replaceAll(`${prefix}.`, ""),
          Math.round((v / N) * 100) / 100,
        ]),
    );
  console.log(
    `      payment budget: ${N} payments in ${ms} ms; per payment (timers' share taken off):\n` +
      `        ${JSON.stringify(figures)}\n` +
      `        idle over as long (taken off): NATS out ${idle.nats.outMsgs}, in ${idle.nats.inMsgs}, ` +
      `JetStream API ${idle.nats.jsApi}, Redis ${idle.redis.commands}, SQL ${idle.pg.statements}\n` +
      `        before that, per payment over the busy window:\n` +
      `        NATS bytes out ${Math.round(w.nats.outBytes / N)}, in ${Math.round(w.nats.inBytes / N)}\n` +
      `        published by kind ${JSON.stringify(per(w.nats.outByKind))}\n` +
      `        JetStream API by operation ${JSON.stringify(per(w.nats.jsApiByOp))}\n` +
      `        JetStream deliveries by consumer ${JSON.stringify(per(w.nats.deliveredByConsumer))}\n` +
      `        Redis by command ${JSON.stringify(per(w.redis.byCommand))}\n` +
      `        SQL by statement ${JSON.stringify(per(w.pg.byStatement), null, 1)}`,
  );
}
