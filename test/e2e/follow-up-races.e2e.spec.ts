// Follow-ups racing on one payment, through the real platform: concurrent captures, refunds and
// cancels must keep the money invariants (captured ≤ authorized, refunded ≤ captured, the amounts
// equal the sum of the operations that succeeded), answer no 5xx, and make identical requests one
// operation. (Split from test/e2e/bad-inputs.e2e.spec.ts: races, not inputs.)
import { expect } from "chai";
import {
  paymentBody,
  startTestPlatform,
  type Api,
  type ApiResponse,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

describe("follow-ups racing on one payment (e2e)", function () {
  this.timeout(120_000);
  let p: TestPlatform;
  let alpha: Api;

  before(async () => {
    p = await startTestPlatform();
    alpha = p.api(p.merchants[0]!);
  });
  after(async () => {
    await p?.cleanup();
  });

  async function authorized(amount: number, capture: "manual" | "automatic"): Promise<string> {
    const res = await alpha.post("/v1/payments", paymentBody({ amount, capture }));
    expect(res.status).to.equal(201);
    expect(res.body.status).to.equal(capture === "manual" ? "authorized" : "captured");
    return res.body.id;
  }

  /** The payment once no operation is pending, with the invariants checked. */
  async function settled(id: string) {
    const view = await waitFor(
      async () => {
        const r = await alpha.get(`/v1/payments/${id}`);
        return r.body.operations.every((o) => o.status !== "pending" && o.status !== "unknown") && r.body;
      },
      { timeoutMs: 20_000, what: `payment ${id} with no pending operation` },
    );
    const sum = (type: string) =>
      view.operations
        .filter((o) => o.type === type && o.status === "succeeded")
        .reduce((a, o) => a + o.amount, 0);
    expect(view.captured_amount).to.be.at.most(view.amount);
    expect(view.refunded_amount).to.be.at.most(view.captured_amount);
    // An automatic capture is captured with the authorization, not by a capture operation.
    expect(view.captured_amount).to.equal(view.capture === "automatic" ? view.amount : sum("capture"));
    expect(view.refunded_amount).to.equal(sum("refund"));
    return view;
  }

  const noServerErrors = (answers: ApiResponse[]) => {
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body)).to.be.below(500);
      if (a.status >= 400) expect(a.body.error.code).to.be.a("string");
    }
  };

  it("keeps captured ≤ authorized when different captures and a cancel race", async () => {
    const id = await authorized(10_000, "manual");
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) =>
        alpha.post(`/v1/payments/${id}/capture`, { amount: 3_000 }, `cap-${i}`),
      ),
      alpha.post(`/v1/payments/${id}/cancel`, {}, "cancel-1"),
    ]);
    noServerErrors(answers);
    const view = await settled(id);
    if (view.status === "canceled") expect(view.captured_amount).to.equal(0);
  });

  it("makes concurrent identical captures one capture with one answer", async () => {
    const id = await authorized(5_000, "manual");
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        alpha.post(`/v1/payments/${id}/capture`, { amount: 2_000 }, "same-cap"),
      ),
    );
    noServerErrors(answers);
    const view = await settled(id);
    expect(view.operations.filter((o) => o.type === "capture")).to.have.length(1);
    expect(view.captured_amount).to.be.oneOf([0, 2_000]);
    const ok = answers.filter((a) => a.status === 200);
    for (const a of ok) expect(a.body.captured_amount).to.equal(2_000);
  });

  it("keeps refunded ≤ captured when different and identical refunds race", async () => {
    const id = await authorized(9_000, "automatic");
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) =>
        alpha.post(`/v1/payments/${id}/refunds`, { amount: 3_000 }, `ref-${i}`),
      ),
      ...Array.from({ length: 3 }, () =>
        alpha.post(`/v1/payments/${id}/refunds`, { amount: 4_000 }, "ref-same"),
      ),
      alpha.post(`/v1/payments/${id}/refunds`, {}, "ref-rest"),
    ]);
    noServerErrors(answers);
    const view = await settled(id);
    expect(view.operations.filter((o) => o.type === "refund" && o.amount === 4_000).length).to.be.at.most(1);
  });

  it("never refunds an uncaptured payment while a capture and refunds race", async () => {
    const id = await authorized(6_000, "manual");
    const answers = await Promise.all([
      alpha.post(`/v1/payments/${id}/refunds`, { amount: 1_000 }, "early-ref-1"),
      alpha.post(`/v1/payments/${id}/capture`, { amount: 4_000 }, "cap-race"),
      alpha.post(`/v1/payments/${id}/refunds`, { amount: 5_000 }, "early-ref-2"),
      alpha.post(`/v1/payments/${id}/cancel`, {}, "cancel-race"),
    ]);
    noServerErrors(answers);
    await settled(id);
  });
});
