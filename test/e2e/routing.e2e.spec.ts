// Policies and PSP health end to end: an operator changes policies over /ops while merchants pay over
// /v1; the sandbox degrades one PSP at run time. Everything real (HTTP, NATS, KV, Redis, sandbox).
// The tests share one platform and run in order: each says which policy versions it leaves active.
import { expect } from "chai";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import {
  opsClient,
  paymentBody,
  startTestPlatform,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { parseMetrics, series } from "../support/prometheus.ts";
import { waitFor } from "../support/wait.ts";

type Problem = { path: string; code: string; message: string };
type PspHealthView = { name: string; health: { circuit: string | null }; rotation: { in: boolean } };
type Shadow = {
  version: number | null;
  decisions: number;
  diverged_psp: number;
  samples: Array<{ payment_id: string; active: { psp: string }; shadow: { psp: string } }>;
};

const routingV1 = {
  kind: "routing",
  home_country: "NL",
  requires: ["refunds"],
  rules: [{ id: "amex-acme", when: { brands: ["amex"] }, then: { type: "priority", psps: ["acme"] } }],
  fallback: ["acme", "bolt"],
};
const boltFirst = { ...routingV1, description: "bolt first", fallback: ["bolt", "acme"] };

describe("routing policies and PSP health (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  let api: Api;

  before(async () => {
    platform = await startTestPlatform();
    api = platform.api(platform.merchants[0]!);
  });
  after(async () => {
    await platform?.cleanup();
  });

  const pay = async (overrides: Parameters<typeof paymentBody>[0] = {}): Promise<PaymentView> => {
    const res = await api.post("/v1/payments", paymentBody(overrides));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  };
  const charges = (id: string) => platform.sandbox!.charges({ reference: id });
  const upload = async (kind: string, doc: unknown): Promise<number> => {
    const res = await platform.ops.post<{ version: number }>(`/ops/policies/${kind}`, doc);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.version;
  };
  const activate = async (kind: string, version: number) => {
    const res = await platform.ops.post(`/ops/policies/${kind}/versions/${version}/activate`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
  };
  const psp = async (name: string) => {
    const res = await platform.ops.get<{ psps: PspHealthView[] }>("/ops/psps");
    return res.body.psps.find((p) => p.name === name);
  };

  it("refuses a bad policy with every problem and its JSON path, and stores nothing", async () => {
    const bad = {
      kind: "routing",
      home_country: "NL",
      rules: [
        { id: "all", when: {}, then: { type: "priority", psps: ["acme"] } },
        { id: "eur", when: { currencies: ["EUR"] }, then: { type: "priority", psps: ["zeta"] } },
        {
          id: "split",
          when: { currencies: ["SEK"] },
          then: {
            type: "weighted",
            split: [
              { psp: "acme", weight: 60 },
              { psp: "bolt", weight: 30 },
            ],
          },
        },
      ],
    };
    const res = await platform.ops.post<{ error: { details: { problems: Problem[] } } }>(
      "/ops/policies/routing",
      bad,
    );
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal("invalid_policy");
    const found = res.body.error.details.problems.map((p) => [p.code, p.path]);
    expect(found).to.deep.include(["unknown_psp", "$.rules[1].then.psps[0]"]);
    expect(found).to.deep.include(["unreachable_rule", "$.rules[1]"]);
    expect(found).to.deep.include(["weights_not_100", "$.rules[2].then.split"]);
    expect(found).to.deep.include(["no_fallback", "$.fallback"]);
    const list = await platform.ops.get<{ versions: unknown[] }>("/ops/policies/routing");
    expect(list.body.versions).to.have.length(1);
  });

  it("keeps the operator API for operators: 401 without a key, 403 with a merchant key", async () => {
    expect((await opsClient(platform.url, "nope").get("/ops/policies")).status).to.equal(401);
    const merchantKey = platform.merchants[0]!.key;
    const res = await opsClient(platform.url, merchantKey).get("/ops/psps");
    expect(res.status).to.equal(403);
    expect(res.body.error?.code).to.equal("forbidden");
  });

  it("records the decision on the payment: policy versions, rule, expected fee of each attempt", async () => {
    const p = await pay({ amount: 150_000 }); // default rule: visa/mastercard EUR ≥ 1000.00 → least cost
    expect(p.routing).to.deep.include({ rule_id: "eur-large-least-cost", strategy: "least_cost" });
    expect(p.routing?.policy_versions).to.deep.equal({ routing: 1, fees: 1, retries: 1 });
    expect(p.expected_fee).to.be.a("number").and.above(0);
    expect(p.attempts[0]?.expected_fee).to.equal(p.expected_fee);
    const events = await platform.worker!.journal.history(p.id);
    const routed = events.find((e) => e.type === "PaymentRouted");
    expect(routed?.type === "PaymentRouted" && routed.decision?.candidates.map((c) => c.psp)).to.have.members(
      ["acme", "bolt"],
    );
  });

  it("applies a new routing version to new payments only, and rolls back", async () => {
    const before = await pay();
    expect(before.psp).to.equal("acme");
    const v2 = await upload("routing", boltFirst);
    await activate("routing", v2);

    const after = await pay();
    expect(after.psp).to.equal("bolt");
    expect(after.routing?.policy_versions.routing).to.equal(v2);
    // The earlier payment keeps its PSP and decision; its capture still goes to acme.
    const old = await api.get(`/v1/payments/${before.id}`);
    expect(old.body).to.deep.include({ psp: "acme" });
    expect(old.body.routing?.policy_versions.routing).to.equal(1);
    const captured = await api.post(`/v1/payments/${before.id}/capture`, {});
    expect(captured.body.status).to.equal("captured");
    expect(charges(before.id).map((c) => [c.psp, c.status])).to.deep.equal([["acme", "captured"]]);

    const rolled = await platform.ops.post<{ version: number }>("/ops/policies/routing/rollback");
    expect(rolled.body.version).to.equal(1);
    expect((await pay()).psp).to.equal("acme");
  });

  it("evaluates a shadow policy beside the active one without acting on it, then drops it", async () => {
    const list = await platform.ops.get<{ versions: Array<{ version: number; comment: string | null }> }>(
      "/ops/policies/routing",
    );
    const candidate = list.body.versions.at(-1)!.version; // bolt first, not active
    expect((await platform.ops.put("/ops/policies/routing/shadow", { version: candidate })).status).to.equal(
      200,
    );

    const paid = [await pay(), await pay(), await pay()];
    for (const p of paid) expect(p.psp, "the active policy still decides").to.equal("acme");
    const summary = await waitFor(
      async () => {
        const s = await platform.ops.get<Shadow>("/ops/policies/routing/shadow");
        return s.body.decisions >= 3 ? s.body : undefined;
      },
      { timeoutMs: 10_000, what: "the shadow summary to count three decisions" },
    );
    expect(summary.version).to.equal(candidate);
    expect(summary.diverged_psp).to.equal(summary.decisions);
    expect(summary.samples.map((s) => s.payment_id)).to.include.members(paid.map((p) => p.id));
    expect(summary.samples[0]).to.deep.include({ active: { ...summary.samples[0]!.active, psp: "acme" } });
    expect(summary.samples[0]!.shadow.psp).to.equal("bolt");
    const metrics = parseMetrics(await (await fetch(`${platform.url}/metrics`)).text());
    // Another PSP, and (between these two PSPs) another expected fee too.
    const shadowed = series(metrics, "switchyard_shadow_decisions_total", { version: String(candidate) });
    const diverged = shadowed.filter((x) => x.labels.diverged?.startsWith("psp"));
    expect(diverged.reduce((n, x) => n + x.value, 0)).to.be.at.least(3);

    expect((await platform.ops.delete("/ops/policies/routing/shadow")).status).to.equal(200);
    const dropped = await platform.ops.get<Shadow>("/ops/policies/routing/shadow");
    expect(dropped.body.version).to.equal(null);
  });

  it("forces a PSP out of rotation and back in", async () => {
    expect((await platform.ops.post("/ops/psps/acme/out", { reason: "e2e" })).status).to.equal(200);
    const out = await pay();
    expect(out.attempts.map((a) => a.psp)).to.deep.equal(["bolt"]);
    expect((await psp("acme"))?.rotation.in).to.equal(false);
    expect((await platform.ops.post("/ops/psps/acme/in")).status).to.equal(200);
    expect((await pay()).psp).to.equal("acme");
  });

  it("never routes to an ineligible PSP: amex with acme out fails no_route, and the decision says why", async () => {
    const amex = "378282246310005";
    expect((await pay({ number: amex })).psp).to.equal("acme");
    expect((await platform.ops.post("/ops/psps/acme/out", { reason: "e2e" })).status).to.equal(200);
    try {
      const p = await pay({ number: amex });
      expect(p).to.deep.include({ status: "failed", failure_code: "no_route", attempts: [] });
      const events = await platform.worker!.journal.history(p.id);
      const routed = events.find((e) => e.type === "PaymentRouted");
      const candidates = routed?.type === "PaymentRouted" ? routed.decision?.candidates : undefined;
      expect(candidates?.find((c) => c.psp === "acme")?.excluded).to.include("forced out of rotation");
      expect(candidates?.find((c) => c.psp === "bolt")).to.deep.include({
        eligible: false,
        excluded: ["brand amex not supported"],
      });
      expect(charges(p.id)).to.have.length(0);
    } finally {
      await platform.ops.post("/ops/psps/acme/in");
    }
  });

  it("opens acme's circuit when it goes down, moves traffic to bolt, and comes back after recovery", async () => {
    const retries = {
      kind: "retries",
      cascade_on: ["soft_decline", "technical"],
      max_attempts: 3,
      circuit: {
        window: 10,
        min_calls: 3,
        failure_rate: 0.5,
        consecutive_failures: 3,
        open_ms: 1000,
        half_open_probes: 1,
      },
    };
    await activate("retries", await upload("retries", retries));
    const sandbox = platform.sandbox!;
    const payments: PaymentView[] = [];
    sandbox.setBehaviour("acme", { outage: true });

    // Down: each payment is failed over to bolt until the circuit opens; then acme is skipped.
    const skipped = await waitFor(
      async () => {
        const p = await pay();
        payments.push(p);
        expect(p.status).to.equal("authorized");
        return p.attempts.length === 1 && p.psp === "bolt" ? p : undefined;
      },
      { timeoutMs: 15_000, what: "a payment routed straight to bolt" },
    );
    expect(payments.length, "payments before the circuit opened").to.be.at.most(4);
    expect(payments[0]!.attempts.map((a) => [a.psp, a.status, a.code])).to.deep.equal([
      ["acme", "failed", "psp_unavailable"],
      ["bolt", "authorized", null],
    ]);
    const events = await platform.worker!.journal.history(skipped.id);
    const routed = events.find((e) => e.type === "PaymentRouted");
    const acme =
      routed?.type === "PaymentRouted"
        ? routed.decision?.candidates.find((c) => c.psp === "acme")
        : undefined;
    expect(acme?.excluded).to.include("circuit open");
    await waitFor(async () => (await psp("acme"))?.health.circuit === "open", {
      timeoutMs: 10_000,
      what: "/ops/psps to show acme's circuit open",
    });

    // Up again: after open_ms a probe goes through, succeeds, and acme takes traffic again.
    sandbox.resetBehaviour("acme");
    await waitFor(
      async () => {
        const p = await pay();
        payments.push(p);
        expect(p.status).to.equal("authorized");
        return p.psp === "acme" ? p : undefined;
      },
      { timeoutMs: 15_000, what: "a payment authorized at acme again" },
    );
    await waitFor(async () => (await psp("acme"))?.health.circuit === "closed", {
      timeoutMs: 10_000,
      what: "/ops/psps to show acme's circuit closed",
    });
    const next = await pay();
    payments.push(next);
    expect(next.attempts.map((a) => a.psp)).to.deep.equal(["acme"]);

    // Nothing lost, nothing charged twice: one authorized charge per payment, at the PSP it names.
    for (const p of payments) {
      const held = charges(p.id).filter((c) => c.status === "authorized");
      expect(
        held.map((c) => c.psp),
        `charges of ${p.id}`,
      ).to.deep.equal([p.psp]);
    }
  });
});
