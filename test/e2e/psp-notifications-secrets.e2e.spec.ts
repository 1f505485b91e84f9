// PSP notifications end to end, at a gateway configured unlike the test platform's: a production
// gateway without notification secrets keeps each PSP's door (POST /webhooks/psp/:psp) closed, says
// so in /readyz, and a notification signed with the published development secret moves nothing;
// one configured with a PSP's basic auth asks for it too, as a second factor, before reading the
// body. Notifications moving payments: psp-notifications-payments.e2e.spec.ts and
// psp-notifications-disputes.e2e.spec.ts.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import pino from "pino";
import { DEV_NOTIFICATION_SECRETS, loadConfig } from "../../config/env.ts";
import { createMetrics } from "../../config/metrics.ts";
import { startGatewayRole } from "../../gateway/role.ts";
import { acmeSigner } from "../../scripts/sandbox/notices.ts";
import { openInfra } from "../../streams/infra.ts";
import { startTestPlatform, type Api, type TestPlatform } from "../support/platform.ts";
import { pspNotices } from "../support/psp-notices.ts";
import { routeTo } from "../support/routing.ts";

describe("PSP notifications: secrets (e2e)", function () {
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

  const { challenge, until, signedDispute, door, boltPayment } = pspNotices(() => ({ platform, api }));

  describe("a production gateway without notification secrets (item 3)", () => {
    it("keeps each PSP's door closed, says so in /readyz, and a dev-signed notification moves nothing", async () => {
      await routeTo(platform, ["acme", "bolt"]);
      const { p } = await challenge();
      expect(p.psp).to.equal("acme");
      // The Procfile's gateway (gateway/main.ts) composes exactly this: no development defaults.
      const config = loadConfig({ ...platform.env, PORT: "0" });
      expect(config.notifications.acmeWebhookSecret).to.equal(undefined);
      const log = pino({ level: "silent" });
      const infra = await openInfra(config, "test-production-gateway", log);
      const gateway = await startGatewayRole(config, infra, {
        cardKey: randomBytes(32),
        sandboxUrl: platform.sandbox!.url,
        metrics: createMetrics(),
        log,
      });
      try {
        const ready = await fetch(`${gateway.url}/readyz`);
        const body = (await ready.json()) as { status: string; checks: Record<string, string> };
        expect(body.checks.psp_notifications).to.equal("closed: acme, bolt");
        expect(ready.status).to.equal(200);
        // Signed with the published development secret, as the sandbox would sign it.
        const charge = platform.sandbox!.charges({ reference: p.id })[0]!;
        const signer = acmeSigner(DEV_NOTIFICATION_SECRETS.acmeWebhookSecret);
        const notice = signer.notice({ kind: "authorization", charge, outcome: "authorized" }, new Date());
        const headers = signer.headers(notice, new Date(), false);
        const events = (await platform.worker!.journal.history(p.id)).length;
        const closed = await door("acme", notice.body, headers, gateway.url);
        expect(closed.status).to.equal(503);
        expect(((await closed.json()) as { error: { code: string } }).error.code).to.equal(
          "notifications_not_configured",
        );
        expect((await platform.worker!.journal.history(p.id)).length).to.equal(events);
        expect((await api.get(`/v1/payments/${p.id}`)).body.status).to.equal("requires_action");
      } finally {
        await gateway.stop();
        await infra.close();
      }
    });

    it("asks for the PSP's basic auth too when configured (a second factor), before reading the body", async () => {
      const credentials = `bolt-notify:${randomBytes(12).toString("hex")}`;
      const config = loadConfig({
        ...platform.env,
        PORT: "0",
        SWITCHYARD_ACME_WEBHOOK_SECRET: DEV_NOTIFICATION_SECRETS.acmeWebhookSecret,
        SWITCHYARD_BOLT_HMAC_KEY: DEV_NOTIFICATION_SECRETS.boltHmacKey,
        SWITCHYARD_BOLT_NOTIFY_BASIC_AUTH: credentials,
      });
      const log = pino({ level: "silent" });
      const infra = await openInfra(config, "test-basic-auth-gateway", log);
      const gateway = await startGatewayRole(config, infra, {
        cardKey: randomBytes(32),
        sandboxUrl: platform.sandbox!.url,
        metrics: createMetrics(),
        log,
      });
      try {
        const ready = (await (await fetch(`${gateway.url}/readyz`)).json()) as {
          checks: Record<string, string>;
        };
        expect(ready.checks.psp_notifications).to.equal("ok");
        const { p, charge } = await boltPayment();
        const body = signedDispute(charge, { id: "dp_basic", amount: 100 }).body;
        const basic = (c: string) => ({ authorization: `Basic ${Buffer.from(c).toString("base64")}` });
        for (const headers of [{}, basic("bolt-notify:wrong-password-0000"), basic(`${credentials}x`)]) {
          const res = await door("bolt", body, headers, gateway.url);
          expect(res.status).to.equal(401);
          expect(((await res.json()) as { error: { code: string } }).error.code).to.equal("unauthorized");
        }
        expect((await api.get(`/v1/payments/${p.id}`)).body.disputes).to.have.length(0);
        const ok = await door("bolt", body, basic(credentials), gateway.url);
        expect(ok.status).to.equal(200);
        await until(p.id, "dispute open", (x) => x.disputes.length === 1);
      } finally {
        await gateway.stop();
        await infra.close();
      }
    });
  });
});
