// Routing in e2e tests: a routing policy uploaded and activated through the operators' API, as an
// operator would, so a test can send its payments to the PSP it needs (bolt for chargebacks).
import { expect } from "chai";
import type { TestPlatform } from "./platform.ts";

/** Upload and activate a routing policy trying `order` first to last, with no rules. */
export async function routeTo(platform: TestPlatform, order: string[]): Promise<void> {
  const routing = { kind: "routing", home_country: "NL", requires: ["refunds"], rules: [], fallback: order };
  const uploaded = await platform.ops.post<{ version: number }>("/ops/policies/routing", routing);
  expect(uploaded.status, JSON.stringify(uploaded.body)).to.equal(201);
  const activated = await platform.ops.post(
    `/ops/policies/routing/versions/${uploaded.body.version}/activate`,
  );
  expect(activated.status, JSON.stringify(activated.body)).to.equal(200);
}
