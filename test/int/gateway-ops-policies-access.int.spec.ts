// The operator API's policy, shadow-routing and PSP routes over real HTTP, on a real policy store
// and ops board: who may call them, and their place in /openapi.json. Policy upload with
// validation, versions, diffs, activation and rollback, shadow routing, PSP rotation and health, and
// the audit log of those changes: gateway-ops-policies-changes.int.spec.ts.
import { expect } from "chai";
import { ROUTING_V2, errorOf, json } from "./ops-api-checks.ts";
import { DEFAULTS, MERCHANT, OPERATORS, startOpsGateway, type OpsHarness } from "./ops-harness.ts";

describe("operator API: who may call it, and its documentation", function () {
  let h: OpsHarness;

  before(async () => {
    h = await startOpsGateway({ defaults: DEFAULTS });
  });
  after(async () => {
    await h?.close();
  });

  describe("access", () => {
    it("answers 401 without a key or with an unknown one", async () => {
      const none = await h.call("GET", "/ops/policies", { key: null });
      expect(none.headers.get("www-authenticate")).to.include("Bearer");
      await errorOf(none, 401, "unauthorized");
      await errorOf(
        await h.call("GET", "/ops/psps", { key: "op_nobody_000000000000000000000000" }),
        401,
        "unauthorized",
      );
    });

    it("answers 403 forbidden to a merchant key", async () => {
      await errorOf(await h.call("GET", "/ops/policies", { key: MERCHANT.key }), 403, "forbidden");
      await errorOf(
        await h.call("POST", "/ops/policies/routing", { key: MERCHANT.key, body: ROUTING_V2 }),
        403,
        "forbidden",
      );
    });

    it("lets any configured operator in", async () => {
      await json(await h.call("GET", "/ops/policies", { key: OPERATORS.bob.key }), 200);
    });

    it("answers 403 operator_api_disabled when no operator key is configured", async () => {
      const off = await startOpsGateway({ operatorKeys: [] });
      try {
        await errorOf(await off.call("GET", "/ops/policies", { key: null }), 403, "operator_api_disabled");
        await errorOf(
          await off.call("GET", "/ops/psps", { key: MERCHANT.key }),
          403,
          "operator_api_disabled",
        );
        expect(off.logs.join("")).to.include("operator API disabled");
      } finally {
        await off.close();
      }
    });
  });

  describe("documentation", () => {
    it("documents every operator route in /openapi.json, tagged operators, with the operator key", async () => {
      const doc = await json<{
        paths: Record<
          string,
          Record<
            string,
            { tags: string[]; security: unknown; responses: Record<string, unknown>; requestBody?: unknown }
          >
        >;
        components: { securitySchemes: Record<string, unknown> };
        tags: Array<{ name: string }>;
      }>(await fetch(`${h.url}/openapi.json`), 200);
      const expected: Array<[string, string]> = [
        ["/ops/policies", "get"],
        ["/ops/policies/{kind}", "get"],
        ["/ops/policies/{kind}", "post"],
        ["/ops/policies/{kind}/versions/{version}", "get"],
        ["/ops/policies/{kind}/diff", "get"],
        ["/ops/policies/{kind}/versions/{version}/activate", "post"],
        ["/ops/policies/{kind}/rollback", "post"],
        ["/ops/policies/routing/shadow", "get"],
        ["/ops/policies/routing/shadow", "put"],
        ["/ops/policies/routing/shadow", "delete"],
        ["/ops/policies/routing/shadow/promote", "post"],
        ["/ops/psps", "get"],
        ["/ops/psps/{psp}/out", "post"],
        ["/ops/psps/{psp}/in", "post"],
      ];
      for (const [path, method] of expected) {
        const op = doc.paths[path]?.[method];
        expect(op, `${method} ${path}`).to.not.equal(undefined);
        expect(op!.tags).to.deep.equal(["operators"]);
        expect(op!.security).to.deep.equal([{ operatorKey: [] }]);
        expect(op!.responses).to.include.keys("401", "403");
      }
      expect(doc.components.securitySchemes).to.include.keys("operatorKey", "bearerAuth");
      expect(doc.tags.map((t) => t.name)).to.include("operators");
      const upload = doc.paths["/ops/policies/{kind}"]!.post!;
      expect(JSON.stringify(upload.requestBody)).to.include("home_country").and.include("cascade_on");
      expect(JSON.stringify(upload.responses["400"])).to.include("invalid_policy");
    });
  });
});
