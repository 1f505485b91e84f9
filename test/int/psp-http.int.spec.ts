// exchangeJson against a bare node:http server on a random port: what goes on the wire, connection
// reuse, and the failures only a real socket produces (the adapters' spec covers the sandbox's faults).
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { closePspHttp, exchangeJson, type JsonRequest } from "../../actors/psp/http.ts";

type Seen = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

describe("exchangeJson over a keep-alive pool", () => {
  let server: Server;
  let base: string;
  let connections: number;
  let seen: Seen[];

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        switch (req.url) {
          case "/redirect":
            res.writeHead(307, { location: "/elsewhere" }).end();
            return;
          case "/reset":
            req.socket.destroy();
            return;
          case "/stall-body":
            res.writeHead(200, { "content-type": "application/json", "content-length": "64" });
            res.write('{"id":');
            return;
          case "/trickle-body": {
            // A byte every 50 ms: never idle long enough for undici's body timeout, only the whole
            // exchange's deadline ends it.
            res.writeHead(200, { "content-type": "application/json", "content-length": "100000" });
            const drip = setInterval(() => res.write(" "), 50);
            res.on("close", () => clearInterval(drip));
            return;
          }
          case undefined:
          default:
            res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
        }
      });
    });
    server.on("connection", () => connections++);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(async () => {
    // A fresh pool per test, so connection counts start from nothing.
    await closePspHttp();
    connections = 0;
    seen = [];
  });
  after(async () => {
    await closePspHttp();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (path: string, over: Partial<JsonRequest> = {}) =>
    exchangeJson({ method: "POST", url: `${base}${path}`, timeoutMs: 1000, body: { amount: 1 }, ...over });

  it("sends the JSON body with its content type, the extra headers and the traceparent", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const r = await post("/v1/charges?x=1", { headers: { "idempotency-key": "k1" }, traceparent });
    expect(r).to.deep.equal({ ok: true, reply: { status: 200, body: { ok: true } } });
    expect(seen).to.have.length(1);
    expect(seen[0]).to.deep.include({ method: "POST", url: "/v1/charges?x=1", body: '{"amount":1}' });
    expect(seen[0]!.headers).to.include({
      "content-type": "application/json",
      accept: "application/json",
      "idempotency-key": "k1",
      traceparent,
    });
  });

  it("reuses its connections for consecutive calls to the same PSP", async () => {
    for (let i = 0; i < 20; i++) expect((await post("/ok")).ok).to.equal(true);
    expect(seen).to.have.length(20);
    // The pool may open a second one: a connection is free again a tick after its body has been read.
    expect(connections).to.be.within(1, 2);
  });

  it("opens new connections after closePspHttp", async () => {
    await post("/ok");
    await closePspHttp();
    const before = connections;
    expect((await post("/ok")).ok).to.equal(true);
    expect(connections).to.equal(before + 1);
  });

  it("does not follow a redirect: the 3xx is the answer", async () => {
    const r = await post("/redirect");
    expect(r).to.deep.equal({ ok: true, reply: { status: 307, body: undefined } });
    expect(seen.map((s) => s.url)).to.deep.equal(["/redirect"]);
  });

  it("answers unknown when the connection is closed after the request arrived", async () => {
    const r = await post("/reset");
    expect(r).to.deep.include({ ok: false });
    expect(r.ok ? undefined : r.failure).to.include({ outcome: "unknown", code: "connection_reset" });
    expect(seen).to.have.length(1);
  });

  it("answers unknown timeout when the body stalls past the deadline", async () => {
    const started = Date.now();
    const r = await post("/stall-body", { timeoutMs: 200 });
    expect(r.ok ? undefined : r.failure).to.include({ outcome: "unknown", code: "timeout" });
    expect(Date.now() - started).to.be.lessThan(1000);
  });

  it("answers unknown timeout when a body trickles past the deadline (one deadline for the whole exchange)", async () => {
    const started = Date.now();
    const r = await post("/trickle-body", { timeoutMs: 300 });
    expect(r.ok ? undefined : r.failure).to.include({ outcome: "unknown", code: "timeout" });
    const took = Date.now() - started;
    expect(took).to.be.at.least(290);
    expect(took).to.be.lessThan(2000);
  });

  it("answers technical_error for a URL it cannot parse, without sending anything", async () => {
    const r = await exchangeJson({ method: "GET", url: "not a url", timeoutMs: 1000 });
    expect(r.ok ? undefined : r.failure).to.include({
      outcome: "technical_error",
      code: "connection_failed",
    });
  });
});
