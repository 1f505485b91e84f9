// One webhook attempt (actors/webhooks/post.ts) against a real node:http receiver on a random port:
// the signed request as it goes on the wire, and the deadline over the whole exchange — a receiver
// that never answers, or that trickles its body a byte at a time (never idle long enough for
// undici's own body timeout), ends as a "timeout" outcome within the endpoint's timeout.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { sealText } from "../../config/card-seal.ts";
import { WebhookPoster } from "../../actors/webhooks/post.ts";
import type { Claimed } from "../../actors/webhooks/store.ts";
import { sign } from "../../actors/webhooks/core/signature.ts";

describe("a webhook attempt over a real socket", function () {
  this.timeout(10_000);
  const key = randomBytes(32);
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  let server: Server;
  let base: string;
  let seen: Array<{ headers: IncomingHttpHeaders; body: string }>;
  let poster: WebhookPoster;

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        seen.push({ headers: req.headers, body });
        if (req.url === "/silent") return;
        if (req.url === "/trickle") {
          res.writeHead(200, { "content-length": "100000" });
          const drip = setInterval(() => res.write(" "), 50);
          res.on("close", () => clearInterval(drip));
          return;
        }
        res.writeHead(200, { "content-type": "text/plain" }).end("thanks");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    seen = [];
    poster = new WebhookPoster({ cardKeys: [key], timeoutMs: 300 });
  });
  afterEach(() => poster.close());
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const claimed = (path: string): Claimed => ({
    id: "we_test",
    secret_sealed: sealText(key, secret, "we_test"),
    previous_secret_sealed: null,
    previous_secret_expires_at: null,
    delivery_id: "wd_1",
    event_id: "evt_1",
    endpoint_id: "we_test",
    merchant_id: "m_1",
    payment_id: "pay_1",
    origin: "test",
    attempts: 0,
    traceparent: null,
    body: '{"id":"evt_1","type":"payment.captured"}',
    appended_at: new Date(),
    url: `${base}${path}`,
    failing_since: null,
    format: "standard",
  });

  it("posts the body signed with the endpoint's secret and keeps the answer's excerpt", async () => {
    const at = new Date();
    const r = await poster.post(claimed("/ok"), at);
    expect(r).to.deep.equal({ status: 200, error: null, response: "thanks" });
    expect(seen).to.have.length(1);
    const ts = Math.floor(at.getTime() / 1000);
    expect(seen[0]!.body).to.equal('{"id":"evt_1","type":"payment.captured"}');
    expect(seen[0]!.headers).to.include({
      "webhook-id": "evt_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": sign(secret, "evt_1", ts, seen[0]!.body),
    });
  });

  for (const path of ["/silent", "/trickle"]) {
    it(`ends a receiver that ${path === "/silent" ? "never answers" : "trickles its body"} as a timeout within the deadline`, async () => {
      const started = Date.now();
      const r = await poster.post(claimed(path), new Date());
      const took = Date.now() - started;
      expect(r).to.deep.equal({ status: null, error: "timeout", response: null });
      expect(took).to.be.at.least(290);
      expect(took).to.be.lessThan(2_000);
    });
  }
});
