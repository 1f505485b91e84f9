// The PSP notification specs' helpers (test/e2e/psp-notifications-*.e2e.spec.ts), over the platform
// and merchant client `run()` returns once `before` has run: calls to the run's sandbox, payments
// (one waiting on a 3-D Secure challenge, one routed to bolt), the notifications the sandbox sent
// and those the platform counted, chargebacks signed as bolt signs them, and POSTs to the platform's
// notification door.
import { expect } from "chai";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { DEV_NOTIFICATION_SECRETS } from "../../config/env.ts";
import { boltSigner, type Notice } from "../../scripts/sandbox/notices.ts";
import type { Charge } from "../../scripts/sandbox/simulator.ts";
import { CARDS, paymentBody, sandboxCall, untilPayment, type Api, type TestPlatform } from "./platform.ts";
import { routeTo } from "./routing.ts";

/** A notification as the sandbox lists what it sent (GET /_sandbox/notifications). */
export type Sent = {
  id: string;
  psp: string;
  type: string;
  delivery: string;
  forged: boolean;
  attempts: unknown[];
};

export function pspNotices(run: () => { platform: TestPlatform; api: Api }) {
  const sandbox = <T>(path: string, body?: unknown) => sandboxCall<T>(run().platform, path, body);
  const pay = async (overrides: Parameters<typeof paymentBody>[0] = {}): Promise<PaymentView> => {
    const res = await run().api.post("/v1/payments", paymentBody(overrides));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  };
  const challenge = async (capture = "manual") => {
    const p = await pay({ number: CARDS.threeDS, capture });
    expect(p.status).to.equal("requires_action");
    const url = p.next_action?.url ?? "";
    return { p, challengeId: url.split("/").at(-1)! };
  };
  const until = (id: string, what: string, ok: (p: PaymentView) => boolean) =>
    untilPayment(run().api, id, what, ok);
  const notices = async (reference: string) =>
    (await sandbox<{ notifications: Sent[] }>(`/_sandbox/notifications?reference=${reference}`)).body
      .notifications;
  const counted = async (psp: string, outcome: string): Promise<number> => {
    const text = await (await fetch(`${run().platform.url}/metrics`)).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`switchyard_psp_notifications_total{psp="${psp}",outcome="${outcome}"}`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

  /** A correctly signed bolt chargeback notification naming `reference`. */
  function boltNotice(reference: string): string {
    const charge = { ...run().platform.sandbox!.charges({ psp: "bolt" })[0]!, reference };
    return signedDispute(charge, { id: "dp_unknown", amount: 100 }).body;
  }

  /** A chargeback on `charge` as bolt would sign and send it (the development key the platform uses). */
  function signedDispute(charge: Charge, d: { id: string; amount: number; currency?: string }): Notice {
    const dispute = {
      id: d.id,
      amount: d.amount,
      currency: d.currency ?? "EUR",
      reason: "fraudulent",
      status: "open" as const,
      openedAt: new Date().toISOString(),
    };
    return boltSigner(DEV_NOTIFICATION_SECRETS.boltHmacKey).notice(
      { kind: "dispute_opened", charge, dispute },
      new Date(),
    );
  }
  const door = (psp: string, body: string, headers: Record<string, string> = {}, url = run().platform.url) =>
    fetch(`${url}/webhooks/psp/${psp}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const boltPayment = async (amount = 2500) => {
    await routeTo(run().platform, ["bolt", "acme"]);
    const p = await pay({ capture: "automatic", amount });
    expect(p.psp).to.equal("bolt");
    const charge = run().platform.sandbox!.charges({ reference: p.id })[0]!;
    return { p, charge };
  };
  /** The same bolt body with its items' additionalData edited: the HMAC does not cover it. */
  const withAdditional = (body: string, extra: Record<string, string>) => {
    const batch = JSON.parse(body) as {
      notificationItems: Array<{ NotificationRequestItem: { additionalData: Record<string, string> } }>;
    };
    for (const w of batch.notificationItems)
      w.NotificationRequestItem.additionalData = { ...w.NotificationRequestItem.additionalData, ...extra };
    return JSON.stringify(batch);
  };

  return {
    sandbox,
    pay,
    challenge,
    until,
    notices,
    counted,
    boltNotice,
    signedDispute,
    door,
    boltPayment,
    withAdditional,
  };
}
