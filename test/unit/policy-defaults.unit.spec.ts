// The policies the platform ships (config/policies/*.json): valid against the sandbox PSPs, and
// routing an ordinary card payment as the README says.
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { decideRoute } from "../../actors/policy/core/router.ts";
import type { FeePolicy, RetryPolicy, RoutingPolicy } from "../../actors/policy/core/schemas.ts";
import { validatePolicy } from "../../actors/policy/core/validate.ts";
import { sandboxCapabilities } from "./policy-fixtures.ts";

describe("default policies", () => {
  it("validate against the sandbox PSPs, and route an ordinary card payment to acme first then bolt", () => {
    const sandbox = sandboxCapabilities();
    const docs = Object.fromEntries(
      ["routing", "fees", "retries"].map((kind) => {
        const r = validatePolicy(JSON.parse(readFileSync(`config/policies/${kind}.json`, "utf8")), {
          capabilities: sandbox,
        });
        expect(r.ok ? [] : r.problems, kind).to.deep.equal([]);
        return [kind, r.ok ? r.policy : undefined];
      }),
    );
    for (const brand of ["visa", "mastercard"])
      for (const binCountry of ["NL", "DE", "US", null]) {
        const d = decideRoute({
          facts: {
            paymentId: "pay_x",
            merchantId: "m",
            amount: 4990,
            currency: "EUR",
            brand,
            binCountry,
            capture: "manual",
            metadata: {},
          },
          routing: { version: 1, policy: docs.routing as RoutingPolicy },
          fees: { version: 1, policy: docs.fees as FeePolicy },
          retries: { version: 1, policy: docs.retries as RetryPolicy },
          capabilities: sandbox,
          health: new Map(),
        });
        expect(d.order).to.deep.equal(["acme", "bolt"]);
      }
  });
});
