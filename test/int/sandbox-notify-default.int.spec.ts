// The Procfile's sandbox role runs without a gateway in its process: without SANDBOX_NOTIFY_URL its
// PSPs notify the gateway's door at the configured HOST and PORT, as the README's configuration
// table says, instead of nowhere. A receiver listening on that PORT stands in for the gateway.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { createConnectors } from "../../actors/psp/registry.ts";
import { defaultSandboxNotifyUrl } from "../../scripts/platform.ts";
import { startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

describe("the sandbox role's notifications without SANDBOX_NOTIFY_URL", function () {
  this.timeout(30_000);
  let receiver: Server;
  let platform: TestPlatform;
  const received: string[] = [];

  before(async () => {
    receiver = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      req.resume();
      req.on("end", () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    // As the Procfile runs it: the sandbox alone, the gateway's PORT in the shared environment.
    const env = testEnv({ PORT: String(port), HOST: "127.0.0.1", SANDBOX_PERSIST: "false" });
    delete env.SANDBOX_NOTIFY_URL;
    platform = await startTestPlatform({ roles: ["sandbox"], env });
  });
  after(async () => {
    await platform?.cleanup();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it("sends them to the gateway's /webhooks/psp/<psp> at its HOST and PORT", async () => {
    const acme = createConnectors({ sandboxUrl: platform.sandbox!.url, timeoutMs: 5000 }).get("acme")!;
    const auth = await acme.authorize({
      idempotencyKey: randomUUID(),
      reference: `pay_${randomUUID().replaceAll("-", "")}`.slice(0, 40),
      amount: 1234,
      currency: "EUR",
      capture: false,
      card: { number: "4000000000003220", expMonth: 3, expYear: new Date().getUTCFullYear() + 1, cvc: "123" },
      returnUrl: "https://shop.example/back",
    });
    if (auth.outcome !== "requires_action") throw new Error(`expected requires_action, got ${auth.outcome}`);
    const challenge = await fetch(
      `${platform.sandbox!.url}/_sandbox/3ds/${auth.actionUrl.split("/").at(-1)!}`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ result: "approve" }),
      },
    );
    expect(challenge.status).to.equal(200);
    await waitFor(() => received.length > 0, {
      timeoutMs: 5000,
      what: "the notification at the gateway's door",
    });
    expect(received).to.deep.equal(["POST /webhooks/psp/acme"]);
  });

  it("reads a wildcard HOST as this machine, and has no default for a port picked at start", () => {
    expect(defaultSandboxNotifyUrl({ host: "127.0.0.1", port: 8080 })).to.equal(
      "http://127.0.0.1:8080/webhooks/psp",
    );
    expect(defaultSandboxNotifyUrl({ host: "0.0.0.0", port: 8080 })).to.equal(
      "http://127.0.0.1:8080/webhooks/psp",
    );
    expect(defaultSandboxNotifyUrl({ host: "::1", port: 9000 })).to.equal("http://[::1]:9000/webhooks/psp");
    expect(defaultSandboxNotifyUrl({ host: "127.0.0.1", port: 0 })).to.equal(undefined);
  });
});
