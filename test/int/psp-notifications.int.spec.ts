// The connector contract for notifications, run against both PSPs: the real sandbox signs and sends
// its notifications (each PSP its own way) to a local receiver, and the real adapters' parseNotification
// verifies and normalizes what arrived — valid, forged, tampered, stale, replayed, malformed,
// oversized. Also the sandbox's own retries when the receiver does not answer 2xx.
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { NotificationRequest, PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { DEV_NOTIFICATION_SECRETS } from "../../config/env.ts";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import { boltSigner, withBasicAuth } from "../../scripts/sandbox/notices.ts";
import { waitFor } from "../support/wait.ts";

type Received = { path: string; headers: IncomingHttpHeaders; body: string };

describe("PSP notifications: the connector contract against the sandbox", function () {
  this.timeout(30_000);
  let sandbox: Sandbox;
  let receiver: Server;
  let connectors: Map<string, PspConnector>;
  const received: Received[] = [];
  /** What the receiver answers next (tests set it to refuse for a while). */
  let answer: (r: Received) => number = () => 200;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r = { path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
        received.push(r);
        res.writeHead(answer(r)).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    sandbox = await startSandbox({
      port: 0,
      notifyUrl: `http://127.0.0.1:${port}/webhooks/psp`,
      notifyRetry: { initialMs: 50, tries: 4 },
      laterMs: 20,
    });
    connectors = createConnectors({
      sandboxUrl: sandbox.url,
      timeoutMs: 5000,
      notifications: DEV_NOTIFICATION_SECRETS,
    });
  });
  after(async () => {
    await sandbox?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const asRequest = (r: Received, now = new Date()): NotificationRequest => ({
    headers: Object.fromEntries(
      Object.entries(r.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : v]),
    ),
    body: r.body,
    now,
  });
  const control = async <T>(path: string, body: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${sandbox.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  /** The next request the receiver gets after `count` requests. */
  const nextReceived = (count: number) =>
    waitFor(() => received[count], { timeoutMs: 5000, what: "a notification at the receiver" });

  for (const name of ["acme", "bolt"] as const) {
    describe(`${name}`, () => {
      const psp = () => connectors.get(name)!;
      const parse = (r: NotificationRequest) => psp().parseNotification!(r);

      /** A 3-D Secure charge completed at the sandbox; what its notification looked like on arrival. */
      async function challenged(result: "approve" | "fail") {
        const reference = `pay_${randomUUID().replaceAll("-", "")}`.slice(0, 40);
        const auth = await psp().authorize({
          idempotencyKey: randomUUID(),
          reference,
          amount: 1234,
          currency: "EUR",
          capture: false,
          card: {
            number: "4000000000003220",
            expMonth: 3,
            expYear: new Date().getUTCFullYear() + 1,
            cvc: "123",
          },
          returnUrl: "https://shop.example/back",
        });
        if (auth.outcome !== "requires_action")
          throw new Error(`expected requires_action, got ${auth.outcome}`);
        const count = received.length;
        const id = auth.actionUrl.split("/").at(-1)!;
        const done = await control<{ notification: { id: string } }>(`/_sandbox/3ds/${id}`, { result });
        expect(done.status).to.equal(200);
        return {
          reference,
          pspReference: auth.pspReference,
          notificationId: done.body.notification.id,
          got: await nextReceived(count),
        };
      }

      it("verifies and normalizes a challenge's result, and answers the PSP's acknowledgement", async () => {
        const { reference, pspReference, notificationId, got } = await challenged("approve");
        expect(got.path).to.equal(`/webhooks/psp/${name}`);
        const parsed = parse(asRequest(got));
        if (!parsed.ok) throw new Error(`refused: ${parsed.reason}`);
        expect(parsed.notifications).to.have.length(1);
        expect(parsed.notifications[0]).to.deep.include({
          id: notificationId,
          psp: name,
          kind: "authorization",
          outcome: "authorized",
          paymentReference: reference,
          pspReference,
        });
        expect(parsed.ack.body).to.equal(name === "bolt" ? "[accepted]" : '{"received":true}');
        const failed = parse(asRequest((await challenged("fail")).got));
        expect(failed.ok && failed.notifications[0]).to.deep.include({
          outcome: "declined",
          code: "authentication_required",
        });
        // The sandbox kept the return_url for the shopper's way back.
        expect(sandbox.charges({ reference }).map((c) => c.returnUrl)).to.deep.equal([
          "https://shop.example/back",
        ]);
      });

      it("refuses a forged copy and a tampered body as bad_signature, naming the payment claimed", async () => {
        const { reference, notificationId, got } = await challenged("approve");
        const count = received.length;
        expect(
          (await control("/_sandbox/psps/" + name + "/notifications/forge", { id: notificationId })).status,
        ).to.equal(200);
        const forged = await nextReceived(count);
        expect(parse(asRequest(forged))).to.deep.equal({
          ok: false,
          reason: "bad_signature",
          paymentReference: reference,
        });
        const tampered = { ...got, body: got.body.replace("1234", "1235").replace('"12.34"', '"12.35"') };
        expect(tampered.body).to.not.equal(got.body);
        expect(parse(asRequest(tampered))).to.deep.include({ ok: false, reason: "bad_signature" });
      });

      it("gives a replayed notification the same id, so the platform can drop it", async () => {
        const { notificationId, got } = await challenged("approve");
        const count = received.length;
        expect(
          (await control(`/_sandbox/psps/${name}/notifications/replay`, { id: notificationId })).status,
        ).to.equal(200);
        const again = parse(asRequest(await nextReceived(count)));
        const first = parse(asRequest(got));
        expect(again.ok && again.notifications[0]?.id).to.equal(notificationId);
        expect(first.ok && first.notifications[0]?.id).to.equal(notificationId);
      });

      it("refuses what is not its format, and a body past the size limit, as malformed", () => {
        const headersOf = (body: string) => {
          if (name === "bolt") return { "content-type": "application/json" };
          const t = Math.floor(Date.now() / 1000);
          const sig = createHmac("sha256", DEV_NOTIFICATION_SECRETS.acmeWebhookSecret)
            .update(`${t}.${body}`)
            .digest("hex");
          return { "acme-signature": `t=${t},v1=${sig}` };
        };
        for (const body of ["not json", '{"hello":"world"}', "[]", `{"pad":"${"x".repeat(300 * 1024)}"}`])
          expect(parse({ headers: headersOf(body), body, now: new Date() })).to.deep.include({
            ok: false,
            reason: "malformed",
          });
      });

      it("completes an asynchronous refund: the call is accepted, the notification ends it", async () => {
        sandbox.setBehaviour(name, { asyncRefunds: true });
        try {
          const auth = await psp().authorize({
            idempotencyKey: randomUUID(),
            reference: `pay_${randomUUID().slice(0, 8)}`,
            amount: 5000,
            currency: "EUR",
            capture: true,
            card: {
              number: "4242424242424242",
              expMonth: 3,
              expYear: new Date().getUTCFullYear() + 1,
              cvc: "123",
            },
          });
          if (auth.outcome !== "authorized") throw new Error(auth.outcome);
          const count = received.length;
          const refund = await psp().refund({
            idempotencyKey: randomUUID(),
            pspReference: auth.pspReference,
            amount: 2000,
            currency: "EUR",
          });
          if (refund.outcome !== "accepted") throw new Error(`expected accepted, got ${refund.outcome}`);
          const parsed = parse(asRequest(await nextReceived(count)));
          expect(parsed.ok && parsed.notifications[0]).to.deep.include({
            kind: "refund",
            outcome: "succeeded",
            operationReference: refund.pspReference,
            pspReference: auth.pspReference,
          });
        } finally {
          sandbox.resetBehaviour(name);
        }
      });
    });
  }

  // After the PSPs' own cases (mocha runs a suite's own tests before its nested suites).
  describe("both", () => {
    it("refuses an acme notification signed outside the tolerance as stale", async () => {
      const count = received.length;
      await fetch(`${sandbox.url}/_sandbox/psps/acme/notifications/replay`, { method: "POST" }).catch(
        () => undefined,
      );
      const any = received.find((r) => r.path.endsWith("/acme")) ?? (await nextReceived(count));
      const acme = connectors.get("acme")!;
      const later = new Date(Date.now() + 10 * 60_000);
      expect(acme.parseNotification!(asRequest(any, later))).to.deep.include({
        ok: false,
        reason: "stale_timestamp",
      });
      expect(acme.parseNotification!(asRequest(any)).ok).to.equal(true);
    });

    it("decides bolt's chargebacks on signed fields only: edited unsigned fields change nothing", async () => {
      const bolt = connectors.get("bolt")!;
      const charge = sandbox.charges({ psp: "bolt" }).find((c) => c.capturedAmount > 0)!;
      let count = received.length;
      const opened = await control<{ dispute: { id: string } }>("/_sandbox/psps/bolt/disputes", {
        pspReference: charge.id,
        amount: 600,
      });
      expect(opened.status).to.equal(201);
      const genuine = await nextReceived(count);
      const first = bolt.parseNotification!(asRequest(genuine));
      if (!first.ok) throw new Error(`refused: ${first.reason}`);
      const n = first.notifications[0]!;
      expect(n).to.deep.include({ kind: "dispute_opened", disputeId: opened.body.dispute.id, amount: 600 });
      /** The genuine body with its one item's additionalData edited (the HMAC stays valid). */
      const edited = (extra: Record<string, string>) => {
        const batch = JSON.parse(genuine.body) as {
          notificationItems: Array<{ NotificationRequestItem: { additionalData: Record<string, string> } }>;
        };
        const item = batch.notificationItems[0]!.NotificationRequestItem;
        item.additionalData = { ...item.additionalData, ...extra };
        return { ...genuine, body: JSON.stringify(batch) };
      };
      for (const ref of ["dp_forged_1", "dp_forged_2", "dp_forged_3"]) {
        const again = bolt.parseNotification!(asRequest(edited({ disputePspReference: ref })));
        expect(again.ok && again.notifications).to.deep.equal([n]);
      }
      // An unsigned status cannot close the dispute: the same signed chargeback stays an opening.
      const won = bolt.parseNotification!(asRequest(edited({ disputeStatus: "Won" })));
      expect(won.ok && won.notifications).to.deep.equal([n]);
      // The PSP's own closing, signed, names the same dispute.
      count = received.length;
      const closed = await control(`/_sandbox/psps/bolt/disputes/${opened.body.dispute.id}/close`, {
        outcome: "won",
      });
      expect(closed.status).to.equal(200);
      const closing = bolt.parseNotification!(asRequest(await nextReceived(count)));
      expect(closing.ok && closing.notifications[0]).to.deep.include({
        kind: "dispute_closed",
        outcome: "won",
        disputeId: n.kind === "dispute_opened" ? n.disputeId : "",
        pspReference: charge.id,
      });
    });

    it("sends the PSP's basic auth with every attempt when the sandbox is given one", () => {
      const signer = withBasicAuth(boltSigner(DEV_NOTIFICATION_SECRETS.boltHmacKey), "bolt:0123456789abcdef");
      const charge = sandbox.charges({ psp: "bolt" })[0]!;
      const dispute = {
        id: "dp_h",
        amount: 1,
        currency: "EUR",
        reason: "x",
        status: "open" as const,
        openedAt: "",
      };
      const n = signer.notice({ kind: "dispute_opened", charge, dispute }, new Date());
      expect(signer.headers(n, new Date(), false).authorization).to.equal(
        `Basic ${Buffer.from("bolt:0123456789abcdef").toString("base64")}`,
      );
    });

    it("retries a notification the receiver did not take until it answers 2xx", async () => {
      let refusals = 2;
      answer = () => (refusals-- > 0 ? 500 : 200);
      try {
        const opened = await control<{ dispute: { id: string }; notification: { id: string } }>(
          "/_sandbox/psps/bolt/disputes",
          { pspReference: sandbox.charges({ psp: "bolt" }).find((c) => c.capturedAmount > 0)!.id },
        );
        expect(opened.status).to.equal(201);
        const sent = await waitFor(
          () =>
            sandbox
              .notifications({ psp: "bolt" })
              .find((n) => n.id === opened.body.notification.id && n.delivery === "delivered"),
          { timeoutMs: 5000, what: "the notification delivered after retries" },
        );
        expect(sent.attempts.map((a) => a.status)).to.deep.equal([500, 500, 200]);
      } finally {
        answer = () => 200;
      }
    });
  });
});
