// The operator API over real HTTP, on a real policy store and ops board: policy upload with
// validation, versions, diffs, activation and rollback, shadow routing, PSP rotation and health,
// and the audit log of every change. The tests run in order on one store: each builds on the
// versions, activations and reports the ones before it left. Who may call the API, and its place in
// /openapi.json: gateway-ops-policies-access.int.spec.ts.
import { expect } from "chai";
import type { z } from "zod";
import type { WorkerReport } from "../../actors/policy/core/reports.ts";
import type { PspListResponse } from "../../gateway/ops-schemas.ts";
import { ROUTING_V2, errorOf, json } from "./ops-api-checks.ts";
import { DEFAULTS, MERCHANT, OPERATORS, startOpsGateway, type OpsHarness } from "./ops-harness.ts";

function workerReport(workerId: string, at: string, over: Partial<WorkerReport> = {}): WorkerReport {
  return { workerId, at, psps: [], shadow: [], ...over };
}

describe("operator API: policies, shadow routing and PSPs", function () {
  let h: OpsHarness;

  before(async () => {
    h = await startOpsGateway({ defaults: DEFAULTS });
    // A merchant key refused here too, so the last test's "never a key" covers it on this gateway's
    // logs (the 403s themselves are gateway-ops-policies-access.int.spec.ts's).
    await errorOf(await h.call("GET", "/ops/policies", { key: MERCHANT.key }), 403, "forbidden");
    await errorOf(
      await h.call("POST", "/ops/policies/routing", { key: MERCHANT.key, body: ROUTING_V2 }),
      403,
      "forbidden",
    );
  });
  after(async () => {
    await h?.close();
  });

  describe("policies", () => {
    it("lists each kind with its active version, seeded as v1", async () => {
      const body = await json<{ policies: Array<Record<string, unknown>> }>(
        await h.call("GET", "/ops/policies"),
        200,
      );
      expect(
        body.policies.map((p) => [p.kind, p.active_version, p.versions, p.shadow_version]),
      ).to.deep.equal([
        ["routing", 1, 1, null],
        ["fees", 1, 1, null],
        ["retries", 1, 1, null],
      ]);
    });

    it("stores a valid upload as the next version without activating it", async () => {
      const res = await h.call("POST", "/ops/policies/routing?comment=amex%20via%20bolt", {
        body: ROUTING_V2,
      });
      expect(await json(res, 201)).to.deep.equal({ kind: "routing", version: 2, active: false });
      const list = await json<{ active_version: number; versions: Array<Record<string, unknown>> }>(
        await h.call("GET", "/ops/policies/routing"),
        200,
      );
      expect(list.active_version).to.equal(1);
      expect(list.versions).to.have.length(2);
      expect(list.versions[1]).to.include({
        version: 2,
        uploaded_by: "alice",
        comment: "amex via bolt",
        active: false,
        shadow: false,
      });
      expect(list.versions[0]).to.include({ version: 1, active: true });
    });

    it("refuses an invalid document with every problem and its JSON path", async () => {
      const res = await h.call("POST", "/ops/policies/routing", {
        body: {
          kind: "routing",
          home_country: "DE",
          rules: [
            {
              id: "r1",
              then: {
                type: "weighted",
                split: [
                  { psp: "acme", weight: 60 },
                  { psp: "zeta", weight: 30 },
                ],
              },
            },
          ],
        },
      });
      const { error } = await errorOf(res, 400, "invalid_policy");
      const problems = error.details.problems!;
      expect(problems.map((p) => [p.path, p.code])).to.deep.include.members([
        ["$.rules[0].then.split[1].psp", "unknown_psp"],
        ["$.rules[0].then.split", "weights_not_100"],
        ["$.fallback", "no_fallback"],
      ]);
      expect(error.message).to.include("(and");

      const shape = await errorOf(
        await h.call("POST", "/ops/policies/fees", { body: { kind: "fees", psps: { acme: [] }, extra: 1 } }),
        400,
        "invalid_policy",
      );
      expect(shape.error.details.problems!.length).to.be.greaterThan(1);
      expect(shape.error.details.problems!.every((p) => p.path.startsWith("$"))).to.equal(true);
      const list = await json<{ versions: unknown[] }>(await h.call("GET", "/ops/policies/fees"), 200);
      expect(list.versions).to.have.length(1);
    });

    it("refuses a document whose kind is not the URL's", async () => {
      const { error } = await errorOf(
        await h.call("POST", "/ops/policies/fees", { body: ROUTING_V2 }),
        400,
        "invalid_policy",
      );
      expect(error.details.problems).to.deep.equal([
        {
          path: "$.kind",
          code: "kind_mismatch",
          message: 'the document\'s kind must be "fees", as in the URL',
        },
      ]);
      await errorOf(await h.call("GET", "/ops/policies/limits"), 400, "validation_error");
    });

    it("serves a stored version's document, and 404 for one that does not exist", async () => {
      const v2 = await json<{ document: Record<string, unknown>; active: boolean; uploaded_by: string }>(
        await h.call("GET", "/ops/policies/routing/versions/2"),
        200,
      );
      expect(v2.document).to.deep.include({ kind: "routing", fallback: ["bolt", "acme"], requires: [] });
      expect(v2).to.include({ active: false, uploaded_by: "alice" });
      await errorOf(
        await h.call("GET", "/ops/policies/routing/versions/99"),
        404,
        "policy_version_not_found",
      );
    });

    it("diffs two versions as an RFC 6902 JSON Patch", async () => {
      const diff = await json<{ from: number; to: number; patch: Array<Record<string, unknown>> }>(
        await h.call("GET", "/ops/policies/routing/diff?from=1&to=2"),
        200,
      );
      expect(diff).to.include({ from: 1, to: 2 });
      expect(diff.patch).to.deep.include.members([
        { op: "replace", path: "/fallback/1", value: "acme" },
        { op: "replace", path: "/fallback/0", value: "bolt" },
      ]);
      expect(diff.patch.some((op) => String(op.path).startsWith("/rules/0"))).to.equal(true);
      await errorOf(
        await h.call("GET", "/ops/policies/routing/diff?from=1&to=42"),
        404,
        "policy_version_not_found",
      );
      await errorOf(await h.call("GET", "/ops/policies/routing/diff?from=1"), 400, "validation_error");
    });

    it("activates a version, rolls back to the one before, and refuses to roll back past the first", async () => {
      const activated = await json<Record<string, unknown>>(
        await h.call("POST", "/ops/policies/routing/versions/2/activate"),
        200,
      );
      expect(activated).to.include({ kind: "routing", version: 2, op: "activate", activated_by: "alice" });
      expect((await h.store.activeVersion("routing"))?.version).to.equal(2);

      const back = await json<Record<string, unknown>>(
        await h.call("POST", "/ops/policies/routing/rollback", { key: OPERATORS.bob.key }),
        200,
      );
      expect(back).to.include({ version: 1, op: "rollback", activated_by: "bob" });
      await errorOf(await h.call("POST", "/ops/policies/routing/rollback"), 409, "no_previous_version");
      await errorOf(await h.call("POST", "/ops/policies/fees/rollback"), 409, "no_previous_version");
      await errorOf(
        await h.call("POST", "/ops/policies/routing/versions/77/activate"),
        404,
        "policy_version_not_found",
      );
      const list = await json<{ activations: Array<{ version: number; op: string }> }>(
        await h.call("GET", "/ops/policies/routing"),
        200,
      );
      expect(list.activations.map((a) => `${a.op}:${a.version}`)).to.deep.equal([
        "seed:1",
        "activate:2",
        "rollback:1",
      ]);
    });

    it("refuses to activate a version that names a PSP no longer configured (409)", async () => {
      const bolt = h.capabilities.get("bolt")!;
      h.capabilities.delete("bolt");
      try {
        const { error } = await errorOf(
          await h.call("POST", "/ops/policies/routing/versions/2/activate"),
          409,
          "policy_not_activatable",
        );
        expect(error.details.problems!.map((p) => p.code)).to.include("unknown_psp");
      } finally {
        h.capabilities.set("bolt", bolt);
      }
      expect((await h.store.activeVersion("routing"))?.version).to.equal(1);
    });
  });

  describe("shadow routing", () => {
    it("sets a shadow version, merges the workers' shadow reports, promotes it and drops it", async () => {
      await errorOf(
        await h.call("PUT", "/ops/policies/routing/shadow", { body: { version: 1 } }),
        409,
        "shadow_is_active",
      );
      await errorOf(
        await h.call("PUT", "/ops/policies/routing/shadow", { body: { version: 50 } }),
        404,
        "policy_version_not_found",
      );
      const set = await json<Record<string, unknown>>(
        await h.call("PUT", "/ops/policies/routing/shadow", { body: { version: 2 } }),
        200,
      );
      expect(set).to.include({ version: 2, set_by: "alice" });

      const sample = (paymentId: string, at: string) => ({
        paymentId,
        at,
        active: { psp: "acme", expectedFee: 30, ruleId: null },
        shadow: { psp: "bolt", expectedFee: 25, ruleId: "amex-to-bolt" },
      });
      const shadowReport = (version: number, decisions: number, samples: ReturnType<typeof sample>[]) => ({
        version,
        activeVersions: [1],
        decisions,
        divergedPsp: samples.length,
        divergedFee: samples.length,
        samples,
      });
      const now = Date.now();
      const at = (s: number) => new Date(now - s * 1000).toISOString();
      await h.board.publish(
        workerReport("w-1", at(0), {
          shadow: [shadowReport(2, 10, [sample("pay_a", at(5)), sample("pay_c", at(30))])],
        }),
      );
      await h.board.publish(
        workerReport("w-2", at(0), {
          shadow: [
            shadowReport(2, 30, [sample("pay_b", at(10))]),
            shadowReport(9, 500, [sample("pay_x", at(1))]),
          ],
        }),
      );
      const summary = await json<Record<string, unknown> & { samples: Array<Record<string, unknown>> }>(
        await h.call("GET", "/ops/policies/routing/shadow"),
        200,
      );
      expect(summary).to.include({ version: 2, workers: 2, decisions: 40, diverged_psp: 3, diverged_fee: 3 });
      expect(summary.divergence_rate).to.be.closeTo(3 / 40, 1e-9);
      expect(summary.samples.map((s) => [s.payment_id, s.worker_id])).to.deep.equal([
        ["pay_a", "w-1"],
        ["pay_b", "w-2"],
        ["pay_c", "w-1"],
      ]);
      expect(summary.samples[0]).to.deep.include({
        active: { psp: "acme", expected_fee: 30, rule_id: null },
        shadow: { psp: "bolt", expected_fee: 25, rule_id: "amex-to-bolt" },
      });
      const policies = await json<{ policies: Array<{ kind: string; shadow_version: number | null }> }>(
        await h.call("GET", "/ops/policies"),
        200,
      );
      expect(policies.policies.find((p) => p.kind === "routing")?.shadow_version).to.equal(2);

      const promoted = await json<Record<string, unknown>>(
        await h.call("POST", "/ops/policies/routing/shadow/promote"),
        200,
      );
      expect(promoted).to.include({ version: 2, op: "promote" });
      const after = await json<Record<string, unknown>>(
        await h.call("GET", "/ops/policies/routing/shadow"),
        200,
      );
      expect(after).to.include({ version: null, decisions: 0 });
      await errorOf(await h.call("POST", "/ops/policies/routing/shadow/promote"), 409, "no_shadow_version");

      await json(await h.call("PUT", "/ops/policies/routing/shadow", { body: { version: 1 } }), 200);
      const dropped = await json<Record<string, unknown>>(
        await h.call("DELETE", "/ops/policies/routing/shadow"),
        200,
      );
      expect(dropped).to.deep.equal({ version: null, set_at: null, set_by: null });
      expect(await h.store.shadowSetting()).to.equal(undefined);
    });

    it("still routes /ops/policies/routing/... parametric paths past the static shadow ones", async () => {
      await json(await h.call("GET", "/ops/policies/routing/diff?from=2&to=1"), 200);
      await json(await h.call("GET", "/ops/policies/routing/versions/1"), 200);
    });
  });

  describe("PSPs", () => {
    it("lists capabilities, rotation and health merged from the workers' reports", async () => {
      const health = (over: Partial<WorkerReport["psps"][number]>): WorkerReport["psps"][number] => ({
        psp: "acme",
        circuit: "closed",
        forcedOut: false,
        successRate: 0.9,
        failureRate: 0.1,
        samples: 10,
        consecutiveFailures: 0,
        latencyMs: { p50: 80, p95: 200 },
        circuitSince: null,
        retryAt: null,
        ...over,
      });
      const at = new Date().toISOString();
      await h.board.publish(
        workerReport("w-1", at, { psps: [health({ successRate: 1, failureRate: 0, samples: 30 })] }),
      );
      await h.board.publish(
        workerReport("w-2", at, {
          psps: [health({ circuit: "open", successRate: 0.5, failureRate: 0.5, samples: 10, retryAt: at })],
        }),
      );
      const body = await json<z.infer<typeof PspListResponse>>(await h.call("GET", "/ops/psps"), 200);
      expect(body.psps.map((p) => p.name)).to.deep.equal(["acme", "bolt"]);
      const [acme, bolt] = body.psps;
      expect(acme!.capabilities).to.deep.equal({
        currencies: ["EUR", "USD", "GBP"],
        brands: ["visa", "mastercard"],
        three_ds: true,
        partial_capture: true,
        refunds: true,
      });
      expect(acme!.rotation).to.deep.equal({ in: true, at: null, reason: null, by: null });
      expect(acme!.health).to.include({ circuit: "open", samples: 40 });
      expect(acme!.health.success_rate).to.be.closeTo((30 * 1 + 10 * 0.5) / 40, 1e-9);
      expect(acme!.health.workers.map((w) => w.worker_id)).to.deep.equal(["w-1", "w-2"]);
      expect(acme!.health.workers[1]).to.include({ circuit: "open", retry_at: at });
      expect(bolt!.health).to.deep.equal({
        circuit: null,
        success_rate: null,
        failure_rate: null,
        samples: 0,
        workers: [],
      });
    });

    it("forces a PSP out and back in, and 404s an unknown PSP", async () => {
      const out = await json<{ rotation: Record<string, unknown> }>(
        await h.call("POST", "/ops/psps/bolt/out", { body: { reason: "incident 42" } }),
        200,
      );
      expect(out.rotation).to.include({ in: false, reason: "incident 42", by: "alice" });
      const listed = await json<{ psps: Array<{ name: string; rotation: { in: boolean } }> }>(
        await h.call("GET", "/ops/psps"),
        200,
      );
      expect(listed.psps.find((p) => p.name === "bolt")?.rotation.in).to.equal(false);
      expect((await h.store.rotations()).get("bolt")?.in).to.equal(false);

      const back = await json<{ rotation: Record<string, unknown> }>(
        await h.call("POST", "/ops/psps/bolt/in", { key: OPERATORS.bob.key }),
        200,
      );
      expect(back.rotation).to.include({ in: true, reason: null, by: "bob" });
      await errorOf(await h.call("POST", "/ops/psps/zeta/out"), 404, "psp_not_found");
    });
  });

  // Last: after every change above was made.
  describe("audit log", () => {
    it("logs every change with the operator's name and never a key", () => {
      const audit = h.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => typeof l.audit === "string");
      const actions = new Set(audit.map((l) => l.audit));
      for (const action of [
        "policy.upload",
        "policy.activate",
        "policy.rollback",
        "shadow.set",
        "shadow.promote",
        "shadow.clear",
        "psp.out",
        "psp.in",
      ])
        expect(actions, action).to.include(action);
      expect(audit.every((l) => l.operator === "alice" || l.operator === "bob")).to.equal(true);
      const all = h.logs.join("\n");
      for (const key of [OPERATORS.alice.key, OPERATORS.bob.key, MERCHANT.key])
        expect(all).not.to.include(key);
    });
  });
});
