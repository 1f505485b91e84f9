// The webhook URL rules against the spellings an attacker would try: every form of a private,
// loopback or metadata address the WHATWG parser accepts is judged by the address it means; names
// are judged by what they resolve to, every answer, at send time (guardedLookup on a real socket).
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import {
  classifyAddress,
  checkWebhookUrl,
  STRICT_URL_POLICY,
} from "../../actors/webhooks/core/url-policy.ts";
import { guardedLookup, resolveWebhookTarget, WebhookUrlRefused } from "../../actors/webhooks/url-resolve.ts";

const DEV = { allowHttpLoopback: true, allowPrivate: false };
const PRIVATE_NET = { allowHttpLoopback: false, allowPrivate: true };

describe("webhook URL policy", () => {
  const refusedInProduction: Array<[string, string]> = [
    ["http://example.com/hook", "scheme_not_allowed"],
    ["ftp://example.com/hook", "scheme_not_allowed"],
    ["file:///etc/passwd", "scheme_not_allowed"],
    ["javascript:alert(1)", "scheme_not_allowed"],
    ["gopher://127.0.0.1:6379/_FLUSHALL", "scheme_not_allowed"],
    ["http://127.0.0.1:8080/hook", "scheme_not_allowed"],
    ["https://user:pass@example.com/hook", "credentials_in_url"],
    ["https://token@example.com/hook", "credentials_in_url"],
    ["https://example.com/hook#frag", "fragment_in_url"],
    ["https://example.com/hook#", "fragment_in_url"],
    [`https://example.com/${"a".repeat(2100)}`, "too_long"],
    ["not a url", "invalid"],
    ["https://exa\nmple.com/", "invalid"],
    [" https://example.com/", "invalid"],
    ["https://", "invalid"],
    ["https://10.0.0.1/hook", "address_not_allowed"],
    ["https://172.16.5.4/", "address_not_allowed"],
    ["https://172.31.255.255/", "address_not_allowed"],
    ["https://192.168.1.1/", "address_not_allowed"],
    ["https://169.254.169.254/latest/meta-data/", "address_not_allowed"],
    ["https://169.254.169.254./latest/meta-data/", "address_not_allowed"],
    ["https://0xa9fea9fe/", "address_not_allowed"],
    ["https://2852039166/", "address_not_allowed"],
    ["https://0251.0376.0251.0376/", "address_not_allowed"],
    ["https://100.64.0.1/", "address_not_allowed"],
    ["https://100.127.255.254/", "address_not_allowed"],
    ["https://127.0.0.1/", "address_not_allowed"],
    ["https://127.1/", "address_not_allowed"],
    ["https://0x7f.1/", "address_not_allowed"],
    ["https://2130706433/", "address_not_allowed"],
    ["https://0177.0.0.1/", "address_not_allowed"],
    ["https://%31%32%37.0.0.1/", "address_not_allowed"],
    ["https://0/", "address_not_allowed"],
    ["https://0.0.0.0/", "address_not_allowed"],
    ["https://224.0.0.1/", "address_not_allowed"],
    ["https://255.255.255.255/", "address_not_allowed"],
    ["https://localhost/", "address_not_allowed"],
    ["https://LOCALHOST./", "address_not_allowed"],
    ["https://api.localhost/", "address_not_allowed"],
    ["https://intranet/", "address_not_allowed"],
    ["https://metadata.google.internal/", "address_not_allowed"],
    ["https://printer.local/", "address_not_allowed"],
    ["https://[::1]/", "address_not_allowed"],
    ["https://[::]/", "address_not_allowed"],
    ["https://[::ffff:10.0.0.1]/", "address_not_allowed"],
    ["https://[::ffff:127.0.0.1]/", "address_not_allowed"],
    ["https://[::ffff:a9fe:a9fe]/", "address_not_allowed"],
    ["https://[0:0:0:0:0:ffff:7f00:1]/", "address_not_allowed"],
    ["https://[::127.0.0.1]/", "address_not_allowed"],
    ["https://[64:ff9b::a9fe:a9fe]/", "address_not_allowed"],
    ["https://[2002:a9fe:a9fe::1]/", "address_not_allowed"],
    ["https://[fc00::1]/", "address_not_allowed"],
    ["https://[fd12:3456::1]/", "address_not_allowed"],
    ["https://[fe80::1]/", "address_not_allowed"],
    ["https://[ff02::1]/", "address_not_allowed"],
    ["https://[2001:db8::1]/", "address_not_allowed"],
  ];
  for (const [url, reason] of refusedInProduction)
    it(`refuses ${JSON.stringify(url.length > 60 ? `${url.slice(0, 60)}…` : url)} (${reason})`, () => {
      const v = checkWebhookUrl(url, STRICT_URL_POLICY);
      expect(v.ok, JSON.stringify(v)).to.equal(false);
      if (!v.ok) {
        expect(v.reason).to.equal(reason);
        // The message never echoes the URL: it may carry a token.
        expect(v.message).not.to.include("example.com");
      }
    });

  it("accepts public https URLs and stores them normalized", () => {
    for (const [url, href] of [
      ["https://example.com/hooks?x=1", "https://example.com/hooks?x=1"],
      ["https://EXAMPLE.com:443/a", "https://example.com/a"],
      ["https://93.184.216.34:8443/", "https://93.184.216.34:8443/"],
      ["https://[2606:2800:220:1:248:1893:25c8:1946]/", "https://[2606:2800:220:1:248:1893:25c8:1946]/"],
    ]) {
      const v = checkWebhookUrl(url!, STRICT_URL_POLICY);
      expect(v.ok, url).to.equal(true);
      if (v.ok) expect(v.url.href).to.equal(href);
    }
  });

  it("allows http:// only to loopback, and only when the deployment says so", () => {
    for (const url of [
      "http://127.0.0.1:4000/hook",
      "http://localhost:4000/",
      "http://[::1]:4000/",
      "http://127.9.9.9/",
    ])
      expect(checkWebhookUrl(url, DEV).ok, url).to.equal(true);
    for (const url of [
      "http://example.com/",
      "http://10.0.0.1/",
      "http://169.254.169.254/",
      "http://0x0a000001/",
    ])
      expect(checkWebhookUrl(url, DEV)).to.deep.include({ ok: false, reason: "scheme_not_allowed" });
    expect(checkWebhookUrl("https://10.0.0.1/", DEV)).to.deep.include({
      ok: false,
      reason: "address_not_allowed",
    });
  });

  it("allows private networks only when configured, and never 0.0.0.0, multicast or reserved", () => {
    for (const url of [
      "https://10.0.0.1/",
      "https://169.254.169.254/",
      "https://[fd00::1]/",
      "https://intranet/",
    ])
      expect(checkWebhookUrl(url, PRIVATE_NET).ok, url).to.equal(true);
    for (const url of ["https://0.0.0.0/", "https://[::]/", "https://224.0.0.1/", "https://240.0.0.1/"])
      expect(checkWebhookUrl(url, PRIVATE_NET).ok, url).to.equal(false);
    expect(checkWebhookUrl("http://10.0.0.1/", PRIVATE_NET)).to.deep.include({
      reason: "scheme_not_allowed",
    });
  });

  it("classifies addresses as resolvers write them", () => {
    expect(classifyAddress("8.8.8.8")).to.equal("public");
    expect(classifyAddress("::ffff:192.168.0.1")).to.equal("private");
    expect(classifyAddress("::ffff:c0a8:1")).to.equal("private");
    expect(classifyAddress("2a00:1450:4001:82a::200e")).to.equal("public");
    expect(classifyAddress("fe80::abcd")).to.equal("link_local");
    expect(classifyAddress("example.com")).to.equal(undefined);
    expect(classifyAddress("1:2:3:4:5:6:7:8:9")).to.equal(undefined);
    expect(classifyAddress("01.2.3.4")).to.equal(undefined);
  });
});

describe("webhook URL policy at send time (DNS)", () => {
  const fakeDns = (answers: Record<string, string[]>) => (name: string) => {
    const found = answers[name];
    if (!found) return Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" }));
    return Promise.resolve(found.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
  };
  const dns = fakeDns({
    "hooks.example.com": ["93.184.216.34"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.5"],
    "meta.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:10.1.2.3"],
    "dev.example.com": ["127.0.0.1"],
  });

  it("resolves a name and answers its addresses when every one is allowed", async () => {
    const t = await resolveWebhookTarget("https://hooks.example.com/x", STRICT_URL_POLICY, dns);
    expect(t.addresses.map((a) => a.address)).to.deep.equal(["93.184.216.34"]);
  });

  for (const name of ["rebind.example.com", "meta.example.com", "mapped.example.com", "dev.example.com"])
    it(`refuses ${name}: one of its addresses is not allowed`, async () => {
      const err = await resolveWebhookTarget(`https://${name}/x`, STRICT_URL_POLICY, dns).catch(
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(WebhookUrlRefused);
      expect((err as WebhookUrlRefused).reason).to.equal("address_not_allowed");
    });

  it("refuses a name that does not resolve, and an IP literal without asking DNS", async () => {
    const unresolvable = await resolveWebhookTarget(
      "https://nowhere.example.com/",
      STRICT_URL_POLICY,
      dns,
    ).catch((e: unknown) => e);
    expect((unresolvable as WebhookUrlRefused).reason).to.equal("unresolvable");
    const literal = await resolveWebhookTarget("https://0xa9fea9fe/", STRICT_URL_POLICY, dns).catch(
      (e: unknown) => e,
    );
    expect((literal as WebhookUrlRefused).reason).to.equal("address_not_allowed");
  });

  describe("guardedLookup on a real connection", () => {
    let server: Server;
    let port: number;
    before(async () => {
      server = createServer((_req, res) => res.end("ok"));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    const fetchVia = (host: string, lookup: ReturnType<typeof guardedLookup>) =>
      new Promise<string>((resolve, reject) => {
        get({ host, port, path: "/", lookup, agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve(String(res.statusCode)));
        }).on("error", reject);
      });

    it("connects to the address it judged", async () => {
      const lookup = guardedLookup(DEV, { loopbackOnly: true, resolve: dns });
      expect(await fetchVia("dev.example.com", lookup)).to.equal("200");
    });

    it("refuses before connecting when the name now points somewhere forbidden", async () => {
      const lookup = guardedLookup(STRICT_URL_POLICY, { resolve: dns });
      const err = await fetchVia("dev.example.com", lookup).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(WebhookUrlRefused);
    });
  });
});
