// 3-D Secure step-up end to end: a card whose issuer declines with authentication_required unless
// 3-D Secure is requested. Under the shipped retry policy (step_up: same_psp) the payment does not
// end declined: its next attempt asks the same PSP for 3-D Secure, the merchant gets 201
// requires_action with the challenge's next_action, the shopper approves it at the sandbox, the PSP's
// notification captures the payment, and the PSP charged the card once.
import { expect } from "chai";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import {
  paymentBody,
  sandboxCall,
  startTestPlatform,
  untilPayment,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { routeTo } from "../support/routing.ts";

/** Declines with authentication_required without 3-D Secure; challenges when it is requested. */
const STEP_UP_CARD = "4000002760003184";

type SandboxCharge = { id: string; psp: string; status: string; capturedAmount: number; reference: string };

describe("3-D Secure step-up (e2e)", function () {
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

  const sandbox = <T>(path: string, body?: unknown) => sandboxCall<T>(platform, path, body);
  const until = (id: string, what: string, ok: (p: PaymentView) => boolean) =>
    untilPayment(api, id, what, ok);

  for (const psp of ["acme", "bolt"]) {
    it(`steps up to requires_action at ${psp}; approved, the payment is captured and charged once`, async () => {
      await routeTo(platform, [psp, psp === "acme" ? "bolt" : "acme"]);
      const created = await api.post(
        "/v1/payments",
        paymentBody({ number: STEP_UP_CARD, capture: "automatic", amount: 4200 }),
      );
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const p = created.body;
      expect(p.status).to.equal("requires_action");
      expect(p.next_action?.url).to.be.a("string");
      expect(p.attempts.map((a) => [a.psp, a.status, a.code, a.class, a.trigger])).to.deep.equal([
        [psp, "declined", "authentication_required", "auth_required", "routed"],
        [psp, "requires_action", null, null, "retry"],
      ]);

      const challengeId = p.next_action!.url.split("/").at(-1)!;
      const done = await sandbox<{ status: string }>(`/_sandbox/3ds/${challengeId}`, { result: "approve" });
      expect(done.status).to.equal(200);
      const after = await until(p.id, "captured", (x) => x.status === "captured");
      expect(after.captured_amount).to.equal(4200);

      const { charges } = (await sandbox<{ charges: SandboxCharge[] }>(`/_sandbox/charges?reference=${p.id}`))
        .body;
      expect(charges.map((c) => [c.psp, c.status]).sort()).to.deep.equal([
        [psp, "captured"],
        [psp, "declined"],
      ]);
      expect(charges.reduce((sum, c) => sum + c.capturedAmount, 0)).to.equal(4200);
      const metrics = await (await fetch(`${platform.url}/metrics`)).text();
      expect(metrics).to.match(new RegExp(`switchyard_three_ds_step_ups_total\\{psp="${psp}"\\} 1\\b`));
    });
  }
});
