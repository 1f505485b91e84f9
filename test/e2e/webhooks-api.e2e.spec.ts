// The merchant's events and deliveries API end to end: events by id and in pages (cursor, type
// filter), an endpoint's deliveries with their attempts, redeliver and replay, one merchant never
// seeing another's, and bad input answered 4xx with a code, never 500.
import { expect } from "chai";
import type postgres from "postgres";
import { paymentBody, startTestPlatform, testEnv, type Api, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { createEndpoint, runSql, startReceiver, type Receiver } from "../support/webhooks.ts";

type Event = { id: string; type: string; data: { object: { id: string } } };
type EventList = { object: string; data: Event[]; has_more: boolean; next_cursor: string | null };

describe("webhooks API: events, deliveries, redeliver, replay (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let alpha: Api;
  let beta: Api;
  let receiver: Receiver;
  let endpointId: string;
  let betaEndpointId: string;
  const paymentIds: string[] = [];

  const body = <T>(r: { body: unknown }) => r.body as T;

  before(async () => {
    env = testEnv({ SWITCHYARD_WEBHOOK_POLL_MS: "100" });
    platform = await startTestPlatform({ env });
    sql = runSql(env);
    alpha = platform.api(platform.merchants[0]!);
    beta = platform.api(platform.merchants[1]!);
    const key: { secret?: string } = {};
    receiver = await startReceiver(() => key.secret);
    const ep = await createEndpoint(sql, env, { merchantId: "m_alpha", url: receiver.url });
    key.secret = ep.secret;
    endpointId = ep.id;
    betaEndpointId = (await createEndpoint(sql, env, { merchantId: "m_beta", url: receiver.url })).id;
    for (let i = 0; i < 3; i++)
      paymentIds.push((await alpha.post("/v1/payments", paymentBody({ capture: "manual" }))).body.id);
    await alpha.post(`/v1/payments/${paymentIds[0]}/capture`, {});
    await beta.post("/v1/payments", paymentBody());
    await waitFor(() => receiver.ok().length >= 4, { timeoutMs: 15_000, what: "4 deliveries" });
    // Alpha's four deliveries say nothing of beta's event: the dispatcher may store it a batch later.
    await waitFor(async () => body<EventList>(await beta.get("/v1/events")).data.length >= 1, {
      timeoutMs: 15_000,
      what: "beta's event in its list",
    });
  });
  after(async () => {
    await receiver?.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
  });

  it("pages through the merchant's events oldest first, and filters by type", async () => {
    const first = await alpha.get("/v1/events?limit=2");
    expect(first.status).to.equal(200);
    const page1 = body<EventList>(first);
    expect(page1.data.map((e) => e.type)).to.deep.equal(["payment.authorized", "payment.authorized"]);
    expect(page1.has_more).to.equal(true);
    expect(page1.next_cursor).to.equal(page1.data[1]!.id);
    const page2 = body<EventList>(await alpha.get(`/v1/events?limit=2&after=${page1.next_cursor}`));
    expect(page2.data.map((e) => e.type)).to.deep.equal(["payment.authorized", "payment.captured"]);
    expect(page2.has_more).to.equal(false);
    // Polling again from the last cursor: nothing new, and the cursor stays.
    const page3 = body<EventList>(await alpha.get(`/v1/events?after=${page2.next_cursor}`));
    expect(page3.data).to.deep.equal([]);
    expect(page3.next_cursor).to.equal(page2.next_cursor);
    const captured = body<EventList>(await alpha.get("/v1/events?type=payment.captured"));
    expect(captured.data.map((e) => e.data.object.id)).to.deep.equal([paymentIds[0]]);
    const one = await alpha.get(`/v1/events/${captured.data[0]!.id}`);
    expect(one.status).to.equal(200);
    expect(body<Event>(one)).to.deep.include({ id: captured.data[0]!.id, type: "payment.captured" });
  });

  it("never shows one merchant another's events or endpoints", async () => {
    const alphaEvent = body<EventList>(await alpha.get("/v1/events?limit=1")).data[0]!;
    const seen = await beta.get(`/v1/events/${alphaEvent.id}`);
    expect(seen.status).to.equal(404);
    expect(seen.body.error.code).to.equal("event_not_found");
    const betaList = body<EventList>(await beta.get("/v1/events"));
    expect(betaList.data).to.have.length(1);
    expect(betaList.data.some((e) => paymentIds.includes(e.data.object.id))).to.equal(false);
    expect((await beta.get(`/v1/events?after=${alphaEvent.id}`)).body.error.code).to.equal("invalid_cursor");
    const deliveries = await beta.get(`/v1/webhook_endpoints/${endpointId}/deliveries`);
    expect(deliveries.status).to.equal(404);
    expect(deliveries.body.error.code).to.equal("webhook_endpoint_not_found");
    expect((await beta.post(`/v1/events/${alphaEvent.id}/redeliver`, {})).status).to.equal(404);
    expect(
      (await beta.post(`/v1/webhook_endpoints/${endpointId}/replay?since=2020-01-01T00:00:00Z`, {})).status,
    ).to.equal(404);
    expect(
      (await alpha.post(`/v1/events/${alphaEvent.id}/redeliver?endpoint=${betaEndpointId}`, {})).status,
    ).to.equal(404);
  });

  it("lists an endpoint's deliveries with every attempt", async () => {
    const r = await alpha.get(`/v1/webhook_endpoints/${endpointId}/deliveries?limit=3`);
    expect(r.status).to.equal(200);
    const list = body<{
      data: Array<Record<string, unknown> & { attempts: Array<Record<string, unknown>> }>;
      has_more: boolean;
    }>(r);
    expect(list.data).to.have.length(3);
    expect(list.has_more).to.equal(true);
    const d = list.data[0]!;
    expect(d).to.include({
      object: "webhook_delivery",
      endpoint_id: endpointId,
      status: "succeeded",
      origin: "stream",
    });
    expect(d.attempts[0]).to.include({ status: 200, error: null, response: "ok" });
    expect(d.attempts[0]!.latency_ms).to.be.a("number");
    const next = await alpha.get(
      `/v1/webhook_endpoints/${endpointId}/deliveries?starting_after=${String(list.data[2]!.id)}`,
    );
    expect(body<{ data: unknown[] }>(next).data).to.have.length(1);
  });

  it("redelivers one event under its own id, and replays an endpoint since a time in order", async () => {
    const event = body<EventList>(await alpha.get("/v1/events?type=payment.captured")).data[0]!;
    const before = receiver.ok().length;
    const r = await alpha.post(`/v1/events/${event.id}/redeliver`, undefined, "redeliver-1");
    expect(r.status).to.equal(202);
    // The same Idempotency-Key again: the same delivery, nothing more queued.
    const again0 = await alpha.post(`/v1/events/${event.id}/redeliver`, undefined, "redeliver-1");
    expect(again0.body).to.deep.equal(r.body);
    expect(body<{ data: Array<{ endpoint_id: string }> }>(r).data.map((d) => d.endpoint_id)).to.deep.equal([
      endpointId,
    ]);
    await waitFor(() => receiver.ok().length > before, { timeoutMs: 10_000, what: "the redelivery" });
    expect(receiver.ok().at(-1)!.id).to.equal(event.id);

    const replayed = await alpha.post(
      `/v1/webhook_endpoints/${endpointId}/replay?since=2020-01-01T00:00:00Z`,
      {},
    );
    expect(replayed.status).to.equal(202);
    expect(replayed.body).to.deep.include({ queued: 4, endpoint_id: endpointId });
    await waitFor(() => receiver.ok().length >= before + 5, { timeoutMs: 10_000, what: "the replay" });
    const again = receiver
      .ok()
      .slice(before + 1)
      .map((x) => x.id);
    const all = body<EventList>(await alpha.get("/v1/events")).data.map((e) => e.id);
    // Per payment, the replay comes in the events' order.
    for (const p of paymentIds) {
      const ids = body<EventList>(await alpha.get("/v1/events"))
        .data.filter((e) => e.data.object.id === p)
        .map((e) => e.id);
      expect(again.filter((id) => ids.includes(id))).to.deep.equal(ids);
    }
    expect([...again].sort()).to.deep.equal([...all].sort());
  });

  it("shows the payment's webhook deliveries, attempt by attempt, on the operators' timeline", async () => {
    const t = await platform.ops.get<{
      webhooks: Array<{
        event_type: string;
        endpoint_id: string;
        origin: string;
        status: string;
        attempts: Array<{ status: number }>;
      }>;
    }>(`/ops/payments/${paymentIds[0]}/timeline`);
    expect(t.status).to.equal(200);
    const stream = t.body.webhooks.filter((w) => w.endpoint_id === endpointId && w.origin === "stream");
    expect(stream.map((w) => w.event_type)).to.deep.equal(["payment.authorized", "payment.captured"]);
    expect(stream[0]!.status).to.equal("succeeded");
    expect(stream[0]!.attempts.map((a) => a.status)).to.deep.equal([200]);
  });

  it("keeps events and deliveries through a read-model rebuild", async () => {
    const before = body<EventList>(await alpha.get("/v1/events?limit=100")).data.map((e) => e.id);
    const [{ n: deliveries } = { n: 0 }] = await sql<
      { n: number }[]
    >`select count(*)::int as n from webhook_deliveries`;
    const rebuilt = await platform.ops.post("/ops/read-models/all/rebuild", {});
    expect(rebuilt.status).to.be.oneOf([200, 202]);
    expect(body<EventList>(await alpha.get("/v1/events?limit=100")).data.map((e) => e.id)).to.deep.equal(
      before,
    );
    const [after] = await sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries`;
    expect(after?.n).to.equal(deliveries);
  });

  it("answers bad input with a 4xx and a code, never a 500", async () => {
    const cases: Array<[Promise<{ status: number; body: { error: { code: string } } }>, number, string]> = [
      [alpha.get("/v1/events?limit=0"), 400, "validation_error"],
      [alpha.get("/v1/events?limit=101"), 400, "validation_error"],
      [alpha.get("/v1/events?limit=ten"), 400, "validation_error"],
      [alpha.get("/v1/events?type=payment.exploded"), 400, "validation_error"],
      [alpha.get("/v1/events?after=evt_doesnotexist"), 400, "invalid_cursor"],
      [alpha.get("/v1/events?after=not%20an%20id"), 400, "validation_error"],
      [alpha.get("/v1/events?colour=red"), 400, "validation_error"],
      [alpha.get("/v1/events/evt_doesnotexist"), 404, "event_not_found"],
      [alpha.get("/v1/events/evt%20bad"), 400, "validation_error"],
      [alpha.get("/v1/webhook_endpoints/we_nope/deliveries"), 404, "webhook_endpoint_not_found"],
      [
        alpha.get(`/v1/webhook_endpoints/${endpointId}/deliveries?starting_after=whd_nope`),
        400,
        "invalid_cursor",
      ],
      [alpha.get(`/v1/webhook_endpoints/${endpointId}/deliveries?status=lost`), 400, "validation_error"],
      [alpha.post(`/v1/webhook_endpoints/${endpointId}/replay?since=yesterday`, {}), 400, "validation_error"],
      [alpha.post(`/v1/webhook_endpoints/${endpointId}/replay`, {}), 400, "validation_error"],
      [alpha.post("/v1/events/evt_doesnotexist/redeliver", {}), 404, "event_not_found"],
      [alpha.post("/v1/events/evt_x/redeliver", { extra: 1 }), 400, "validation_error"],
    ];
    for (const [call, status, code] of cases) {
      const r = await call;
      expect([r.status, r.body.error?.code]).to.deep.equal([status, code]);
    }
  });
});
