// A chargeback end to end, from the PSP's notification to the ledger: the dispute opened shows in the
// payment's view and timeline and moves its amount from the merchant's payable to the PSP's disputes
// account; won, it moves back; lost, it stays. The trial balance balances throughout. The
// notifications are RecordNotification commands on PAY_CMD, as the PSP notification door sends them.
import { expect } from "chai";
import { payCmd, type PayCmd } from "../support/pay-cmd.ts";
import {
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type ApiBody,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

type Balance = {
  balanced: boolean;
  accounts: Array<{ account: string; currency: string; balance: number }>;
};
describe("disputes: view, timeline and ledger (e2e)", function () {
  this.timeout(30_000);
  let platform: TestPlatform;
  let api: Api;
  let cmd: PayCmd;

  before(async () => {
    const env = testEnv();
    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    cmd = await payCmd(env);
  });

  after(async () => {
    await cmd?.close();
    await platform?.cleanup();
  });

  async function captured(amount: number): Promise<ApiBody> {
    const res = await api.post("/v1/payments", paymentBody({ amount, capture: "automatic" }));
    expect(res.body.status).to.equal("captured");
    return res.body;
  }

  const disputeStatus = (id: string, status: string) =>
    waitFor(
      async () => {
        const p = (await api.get(`/v1/payments/${id}`)).body;
        return p.disputes?.[0]?.status === status && p;
      },
      { timeoutMs: 10_000, what: `payment ${id}'s dispute ${status}` },
    );

  async function balances(): Promise<(account: string) => number> {
    await platform.readModels!.caughtUp("payments");
    const tb = (await platform.ops.get<Balance>("/ops/ledger/trial-balance")).body;
    expect(tb.balanced).to.equal(true);
    return (account) => tb.accounts.find((a) => a.account === account && a.currency === "EUR")?.balance ?? 0;
  }

  it("records a dispute won: the amount leaves the merchant's payable while open, and comes back", async () => {
    const p = await captured(5_000);
    const disputes = `psp:${p.psp}:disputes`;
    const payable = `merchant:${p.merchant_id}:payable`;
    await cmd.notify(p, {
      kind: "dispute_opened",
      disputeId: "dp_won",
      amount: 2_000,
      currency: "EUR",
      reason: "fraudulent",
    });
    const open = await disputeStatus(p.id, "open");
    expect(open.status).to.equal("captured");
    expect(open.disputes[0]).to.include({ id: "dp_won", amount: 2_000, reason: "fraudulent", psp: p.psp });
    let b = await balances();
    expect(b(disputes)).to.equal(-2_000);
    expect(b(payable)).to.equal(-3_000);

    await cmd.notify(p, { kind: "dispute_closed", disputeId: "dp_won", outcome: "won" });
    await disputeStatus(p.id, "won");
    b = await balances();
    expect(b(disputes)).to.equal(0);
    expect(b(payable)).to.equal(-5_000);

    const t = await platform.ops.get<{ events: Array<{ type: string; label: string }> }>(
      `/ops/payments/${p.id}/timeline`,
    );
    expect(t.body.events.filter((e) => e.type.startsWith("Dispute")).map((e) => e.label)).to.deep.equal([
      `dispute dp_won opened at ${p.psp}: 2000 EUR, fraudulent`,
      "dispute dp_won closed: won",
    ]);
  });

  it("records a dispute lost: the amount stays recovered from the merchant", async () => {
    const before = await balances();
    const p = await captured(4_000);
    const disputes = `psp:${p.psp}:disputes`;
    await cmd.notify(p, {
      kind: "dispute_opened",
      disputeId: "dp_lost",
      amount: 4_000,
      currency: "EUR",
      reason: "product_not_received",
    });
    await disputeStatus(p.id, "open");
    await cmd.notify(p, { kind: "dispute_closed", disputeId: "dp_lost", outcome: "lost" });
    await disputeStatus(p.id, "lost");
    const after = await balances();
    expect(after(disputes) - before(disputes)).to.equal(-4_000);
    expect(after(`merchant:${p.merchant_id}:payable`)).to.equal(before(`merchant:${p.merchant_id}:payable`));
  });

  it("posts no dispute in another currency or beyond what was captured: the ledger never owes more", async () => {
    const before = await balances();
    const p = await captured(6_000);
    const disputes = `psp:${p.psp}:disputes`;
    const dispute = (disputeId: string, amount: number, currency = "EUR") =>
      cmd.notify(p, { kind: "dispute_opened", disputeId, amount, currency, reason: "fraudulent" });
    await dispute("dp_usd", 1_000, "USD");
    await dispute("dp_jpy", 1, "JPY");
    await dispute("dp_over", 6_001);
    await dispute("dp_full", 6_000);
    await dispute("dp_again", 6_000);
    // Commands on one payment are decided in order: once this one shows, every one before was decided.
    await cmd.notify(p, { kind: "dispute_closed", disputeId: "dp_full", outcome: "lost" });
    const done = await waitFor(
      async () => {
        const view = (await api.get(`/v1/payments/${p.id}`)).body;
        return (
          view.disputes.find((d: { id: string; status: string }) => d.id === "dp_full")?.status === "lost" &&
          view
        );
      },
      { timeoutMs: 10_000, what: `payment ${p.id}'s dispute dp_full lost` },
    );
    expect(done.disputes.map((d: { id: string }) => d.id)).to.deep.equal(["dp_full"]);
    const after = await balances();
    expect(after(disputes) - before(disputes)).to.equal(-6_000);
    const tb = (await platform.ops.get<Balance>("/ops/ledger/trial-balance")).body;
    expect(tb.accounts.filter((a) => a.currency !== "EUR" && a.balance !== 0)).to.deep.equal([]);
  });
});
