// Find, explain, fix: operators search payments across merchants, merchants list their own, a
// payment's timeline explains it, the stuck list says why, and requery / resolve fix one — audited.
import { expect } from "chai";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

type Row = { id: string; merchant_id: string; status: string; amount: number; reference: string | null };
type Search = { payments: Row[]; next_cursor: string | null };
type Stuck = { payments: Array<Row & { why: string; age_s: number }> };
type Timeline = {
  events: Array<{
    seq: number;
    event_no: number;
    type: string;
    data: Record<string, unknown>;
    trace_id: string | null;
  }>;
  attempts: Array<{ attempt: number; psp: string; request_id: string; status: string }>;
};
type Action = { payment: { status: string; attempts: Array<{ status: string }> }; result: string };

describe("find, explain and fix payments (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  const ids: Record<string, string[]> = { m_alpha: [], m_beta: [] };

  before(async () => {
    platform = await startTestPlatform({ env: testEnv({ SWITCHYARD_JANITOR_AFTER_MS: "600000" }) });
    for (const [i, m] of platform.merchants.entries()) {
      for (let n = 0; n < 3; n++) {
        const body = {
          ...paymentBody({ amount: 1_000 + i * 100 + n }),
          reference: `order-${m.merchantId}-${n}`,
        };
        const res = await platform.api(m).post("/v1/payments", body);
        expect(res.status).to.equal(201);
        ids[m.merchantId]!.push(res.body.id);
      }
    }
  });
  after(async () => platform?.cleanup());

  const search = (q: string) => platform.ops.get<Search>(`/ops/payments?${q}`);

  it("searches across merchants, with filters and a cursor that pages without gaps or repeats", async () => {
    const found = await waitFor(
      async () => {
        const r = await search("limit=50");
        return r.body.payments.length === 6 && r.body;
      },
      { timeoutMs: 5_000, what: "the six payments in the read model" },
    );
    expect(found.payments.map((p) => p.merchant_id).sort()).to.deep.equal([
      "m_alpha",
      "m_alpha",
      "m_alpha",
      "m_beta",
      "m_beta",
      "m_beta",
    ]);
    expect((await search("merchant=m_beta")).body.payments.every((p) => p.merchant_id === "m_beta")).to.equal(
      true,
    );
    expect((await search("reference=order-m_alpha-1")).body.payments.map((p) => p.id)).to.deep.equal([
      ids.m_alpha![1],
    ]);
    expect((await search("amount_min=1100&amount_max=1101")).body.payments).to.have.length(2);
    expect((await search("last4=4242&currency=EUR")).body.payments).to.have.length(6);
    expect((await search("status=declined")).body.payments).to.have.length(0);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Search = (await search(`limit=4${cursor ? `&cursor=${cursor}` : ""}`)).body;
      seen.push(...page.payments.map((p) => p.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).to.have.length(6);
    expect(new Set(seen).size).to.equal(6);
    expect((await search("cursor=bm90LWEtY3Vyc29y")).status).to.equal(400);
    expect((await search("amount_min=-1")).status).to.equal(400);
    expect((await search("unknown=1")).status).to.equal(400);
  });

  it("finds a new payment within a second of its event", async () => {
    const res = await platform
      .api(platform.merchants[0]!)
      .post("/v1/payments", { ...paymentBody(), reference: "fresh-one" });
    const started = Date.now();
    await waitFor(async () => (await search("reference=fresh-one")).body.payments.length === 1, {
      timeoutMs: 1_000,
      what: "the new payment in the search",
      intervalMs: 20,
    });
    expect(Date.now() - started).to.be.lessThan(1_000);
    ids.m_alpha!.push(res.body.id);
  });

  it("lists a merchant's own payments, newest first, and never another merchant's", async () => {
    const alpha = platform.api(platform.merchants[0]!);
    type List = { object: string; data: Row[]; has_more: boolean };
    const first = (await alpha.get("/v1/payments?limit=2")).body as unknown as List;
    expect(first.object).to.equal("list");
    expect(first.has_more).to.equal(true);
    const rest = (await alpha.get(`/v1/payments?limit=10&starting_after=${first.data[1]!.id}`))
      .body as unknown as List;
    const all = [...first.data, ...rest.data].map((p) => p.id);
    expect(new Set(all)).to.deep.equal(new Set(ids.m_alpha));
    expect(rest.has_more).to.equal(false);
    const foreign = await alpha.get(`/v1/payments?starting_after=${ids.m_beta![0]}`);
    expect(foreign.status).to.equal(400);
    const unauth = await fetch(`${platform.url}/v1/payments`);
    expect(unauth.status).to.equal(401);
  });

  it("explains a payment: its events in order with trace ids, its attempts with request ids, no fingerprints", async () => {
    const id = ids.m_alpha![0]!;
    const t = (await platform.ops.get<Timeline>(`/ops/payments/${id}/timeline`)).body;
    expect(t.events.map((e) => e.type).slice(0, 4)).to.deep.equal([
      "PaymentCreated",
      "PaymentRouted",
      "AuthorizationRequested",
      "PaymentAuthorized",
    ]);
    expect(t.events.map((e) => e.event_no)).to.deep.equal(t.events.map((_, i) => i + 1));
    expect(t.events.every((e) => typeof e.trace_id === "string")).to.equal(true);
    expect(JSON.stringify(t)).not.to.include('fingerprint":"');
    expect(JSON.stringify(t)).not.to.include("requestFingerprint");
    expect(t.attempts[0]).to.deep.include({ attempt: 1, psp: "acme", status: "authorized" });
    expect(t.attempts[0]!.request_id).to.be.a("string").and.not.equal("");
    expect((await platform.ops.get(`/ops/payments/pay_nope/timeline`)).status).to.equal(404);
    expect((await platform.ops.get(`/ops/payments/bad%20id/timeline`)).status).to.equal(400);
  });

  it("lists a payment left unknown as stuck, with why; requery keeps asking; resolve records the confirmed outcome", async () => {
    const sandbox = platform.sandbox!;
    sandbox.setBehaviour("acme", { fault: "http_500" });
    let id = "";
    try {
      const res = await platform.api(platform.merchants[0]!).post("/v1/payments", paymentBody());
      expect(res.status).to.equal(202);
      id = res.body.id;
      const stuck = await waitFor(
        async () =>
          (await platform.ops.get<Stuck>("/ops/payments/stuck?older_than_s=0")).body.payments.find(
            (p) => p.id === id && p.why.includes("unknown"),
          ),
        { timeoutMs: 10_000, what: "the payment in the stuck list, its outcome unknown" },
      );
      expect(stuck.why).to.include("unknown");
      const requeried = await platform.ops.post<Action>(`/ops/payments/${id}/requery`, {
        reason: "PSP says it is back",
      });
      expect(requeried.status).to.equal(200);
      expect(requeried.body.result).to.equal("pending");
      expect((await platform.ops.post(`/ops/payments/${id}/requery`, {})).status).to.equal(400);

      const noRef = await platform.ops.post(`/ops/payments/${id}/resolve`, {
        outcome: "authorized",
        reason: "confirmed",
      });
      expect(noRef.status).to.equal(409);
      const charge = sandbox.charges({ reference: id })[0]!;
      const resolved = await platform.ops.post<Action>(`/ops/payments/${id}/resolve`, {
        outcome: "captured",
        psp_reference: charge.id,
        reason: "acme support confirmed the charge (ticket 123)",
      });
      expect(resolved.status, JSON.stringify(resolved.body)).to.equal(200);
      expect(resolved.body.payment.status).to.equal("captured");
      const again = await platform.ops.post(`/ops/payments/${id}/resolve`, {
        outcome: "failed",
        reason: "twice",
      });
      expect(again.status).to.equal(409);
      expect(
        (await platform.ops.post(`/ops/payments/pay_nope/resolve`, { outcome: "failed", reason: "r" }))
          .status,
      ).to.equal(404);
      expect(
        (await platform.ops.post(`/ops/payments/${id}/resolve`, { outcome: "maybe", reason: "r" })).status,
      ).to.equal(400);
    } finally {
      sandbox.resetBehaviour("acme");
    }
    const merchantView = (await platform.api(platform.merchants[0]!).get(`/v1/payments/${id}`)).body;
    expect(merchantView.status).to.equal("captured");
    type Audit = { entries: Array<{ actor: string; action: string; fields: Record<string, unknown> }> };
    const trail = (await platform.ops.get<Audit>("/ops/audit?action=payment")).body.entries;
    expect(trail.map((e) => e.action)).to.include.members(["payment.requery", "payment.resolve"]);
    const t = (await platform.ops.get<Timeline>(`/ops/payments/${id}/timeline`)).body;
    const authorized = t.events.find((e) => e.type === "PaymentAuthorized");
    expect(authorized?.data.resolvedBy).to.deep.equal({
      operator: "ops",
      reason: "acme support confirmed the charge (ticket 123)",
    });
    await waitFor(
      async () =>
        !(await platform.ops.get<Stuck>("/ops/payments/stuck?older_than_s=0")).body.payments.some(
          (p) => p.id === id,
        ),
      { timeoutMs: 5_000, what: "the payment to leave the stuck list" },
    );
  });
});
