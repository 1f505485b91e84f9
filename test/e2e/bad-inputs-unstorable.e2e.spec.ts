// Every endpoint that exists, under input no store downstream can hold: NUL characters and lone
// surrogates in bodies, object keys, query strings, path parameters, headers, operator bodies and
// NATS commands; bodies nested past 32 levels; __proto__ keys; and card numbers in URLs, which are
// neither logged nor echoed. The endpoint list is read from the platform's own /openapi.json, so a
// new route is covered the day it is added. Each such input is refused (a 4xx in the error envelope
// over HTTP, a dead letter over NATS), never a 5xx, and nothing of it is stored. Other bad requests
// (keys, headers, bodies of the wrong kind, long URLs, Idempotency-Keys):
// bad-inputs-requests.e2e.spec.ts.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { deriveFingerprintKeys, createPaymentEnvelope } from "../../gateway/commands.ts";
import {
  PARAM_VALUES,
  endpointRequests,
  isPspDoor,
  readEnvelope,
  startBadInputsPlatform,
  type BadInputsPlatform,
  type Endpoint,
  type Issue,
} from "../support/documented-endpoints.ts";
import { payCmd } from "../support/pay-cmd.ts";
import { paymentBody, type Api, type TestPlatform } from "../support/platform.ts";
import { rawRequest } from "../support/raw-http.ts";
import { waitFor } from "../support/wait.ts";

/** What no store downstream can hold: PostgreSQL refuses NUL in text and jsonb, and a lone surrogate's escape in jsonb. */
const NUL = "a\u0000b";
const LONE = "a\ud800b";
/** An Amex test number: 15 digits, Luhn-valid. */
const PAN_IN_URL = "378282246310005";

describe("every endpoint under bad input: what cannot be stored (e2e)", function () {
  this.timeout(120_000);
  let p: TestPlatform;
  let alpha: Api;
  let endpoints: Endpoint[];
  let merchantKey: string;
  // Every line the platform logs during this file (gateway and worker): no card number may be among them.
  let logs: BadInputsPlatform["logs"];

  before(async () => {
    ({ p, alpha, endpoints, merchantKey, logs } = await startBadInputsPlatform());
  });
  after(async () => {
    await p?.cleanup();
  });

  const { send } = endpointRequests(() => ({ url: p.url, merchantKey }));

  describe("what no store downstream can hold", () => {
    const bodied = () =>
      endpoints.filter((x) => (x.method === "POST" || x.method === "PUT") && !isPspDoor(x));

    /** A 400 with `code` whose first issue names `path`. */
    async function refused(e: Endpoint, res: Response, code: string, path?: string) {
      const got = await readEnvelope(res);
      const what = `${e.method} ${e.template}`;
      expect(got.status, `${what}: ${got.code}`).to.equal(400);
      expect(got.code, what).to.equal(code);
      if (path !== undefined) expect(got.issues[0]?.path, what).to.equal(path);
    }

    it("refuses NUL characters and lone surrogates in every body, object key and query string, naming the field", async () => {
      const bodies: Array<[unknown, string]> = [
        [{ note: NUL }, "note"],
        [{ note: LONE }, "note"],
        [{ list: ["ok", LONE] }, "list.1"],
        [{ [`k${NUL}`]: 1 }, "[key]"],
        [{ nested: { [`k${LONE}`]: "x" } }, "nested.[key]"],
      ];
      for (const e of bodied())
        for (const [body, path] of bodies)
          await refused(e, await send(e, { body: JSON.stringify(body) }), "invalid_characters", path);
      for (const e of endpoints) {
        await refused(e, await send(e, { path: `${e.path}?q=a%00b` }), "invalid_characters", "q");
        await refused(e, await send(e, { path: `${e.path}?a%00b=1` }), "invalid_characters", "[key]");
        for (const param of e.params) {
          const path = e.template.replace(/\{(\w+)\}/g, (_, n: string) =>
            n === param ? "a%00b" : PARAM_VALUES[n]!,
          );
          await refused(e, await send(e, { path }), "invalid_characters", param);
        }
      }
    });

    it("answers 400, not 503, to a NUL in a query the read models would be asked", async () => {
      // PostgreSQL refuses the parameter: these were 503 "cannot be reached right now".
      for (const [path, field] of [
        ["/v1/payments?status=a%00b", "status"],
        ["/ops/payments?reference=a%00b", "reference"],
        ["/ops/settlements/reports?psp=a%00b", "psp"],
        ["/ops/reconciliation/exceptions?after=a%00b", "after"],
      ] as const) {
        const e = endpoints.find((x) => x.method === "GET" && x.template === path.split("?")[0])!;
        await refused(e, await send(e, { path }), "invalid_characters", field);
      }
    });

    it("stores nothing of a payment whose reference, metadata value or metadata key holds a NUL or a lone surrogate", async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ reference: NUL }, "reference"],
        [{ reference: LONE }, "reference"],
        [{ metadata: { order: NUL } }, "metadata.order"],
        [{ metadata: { order: LONE } }, "metadata.order"],
        [{ metadata: { [`o${NUL}`]: "x" } }, "metadata.[key]"],
        [{ metadata: { [`o${LONE}`]: "x" } }, "metadata.[key]"],
      ];
      const e = endpoints.find((x) => x.method === "POST" && x.template === "/v1/payments")!;
      for (const [extra, path] of cases) {
        const key = randomBytes(8).toString("hex");
        const body = JSON.stringify({ ...paymentBody(), ...extra });
        await refused(
          e,
          await send(e, { body, headers: { "idempotency-key": key } }),
          "invalid_characters",
          path,
        );
        const id = paymentIdFor(p.merchants[0]!.merchantId, key);
        expect(await p.worker!.journal.history(id), `${path}: events of ${id}`).to.deep.equal([]);
      }
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      for (const code of ["nul_character", "lone_surrogate"])
        expect(metrics).to.match(
          new RegExp(`switchyard_inputs_refused_total\\{edge="http",code="${code}"\\} [1-9]`),
        );
      // The read side goes on: the next payment reaches the merchant's list (the read model).
      const ok = await alpha.post("/v1/payments", { ...paymentBody(), reference: "after-the-refusals" });
      expect(ok.status).to.equal(201);
      await waitFor(
        async () => {
          const list = (await alpha.get("/v1/payments?limit=100")).body as unknown as {
            data: Array<{ id: string }>;
          };
          return list.data.some((x) => x.id === ok.body.id);
        },
        { timeoutMs: 15_000, what: "the valid payment in the merchant's list" },
      );
    });

    it("refuses NUL characters and lone surrogates in operator bodies: no merchant, no resolution is stored", async () => {
      const create = await p.ops.post("/ops/merchants", { id: "m_nul", name: NUL });
      expect(create.status).to.equal(400);
      expect(create.body.error?.code).to.equal("invalid_characters");
      const merchants = await p.ops.get<{ merchants: Array<{ id: string }> }>("/ops/merchants");
      expect(merchants.body.merchants.map((m) => m.id)).not.to.include("m_nul");

      const pay = await alpha.post("/v1/payments", paymentBody());
      expect(pay.status).to.equal(201);
      const before = (await p.worker!.journal.history(pay.body.id)).length;
      const resolve = await p.ops.post(`/ops/payments/${pay.body.id}/resolve`, {
        outcome: "declined",
        reason: LONE,
      });
      expect(resolve.status).to.equal(400);
      expect(resolve.body.error?.code).to.equal("invalid_characters");
      expect((resolve.body.error?.details as { issues: Issue[] }).issues[0]?.path).to.equal("reason");
      expect((await p.worker!.journal.history(pay.body.id)).length).to.equal(before);
    });

    it("refuses a NUL in the header values the platform reads, and a non-ASCII Idempotency-Key", async () => {
      const host = new URL(p.url).host;
      const head = (extra: string) =>
        `POST /v1/payments HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${merchantKey}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 2\r\n${extra}`;
      for (const extra of [
        "Idempotency-Key: a\u0000b",
        "Idempotency-Key: k\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u0000",
      ]) {
        const res = await rawRequest(p.url, head(extra), "{}");
        expect(res.status, extra).to.equal(400);
        expect((JSON.parse(res.body) as { error: { code: string } }).error.code).to.equal(
          "malformed_request",
        );
      }
      const utf8 = await rawRequest(p.url, head("Idempotency-Key: caf\u00e9"), "{}");
      expect(utf8.status).to.equal(400);
      const issues = (JSON.parse(utf8.body) as { error: { details: { issues: Issue[] } } }).error.details
        .issues;
      expect(issues[0]?.path).to.equal("idempotency-key");
    });

    it("refuses bodies nested past 32 levels with 400 nesting_too_deep, 5,000 and 8,000 deep included", async () => {
      const arrays = (d: number) => `{"metadata":{"k":${"[".repeat(d)}${"]".repeat(d)}}}`;
      const objects = (d: number) => `${'{"a":'.repeat(d)}1${"}".repeat(d)}`;
      const payments = endpoints.find((x) => x.method === "POST" && x.template === "/v1/payments")!;
      for (const d of [31, 5_000, 8_000]) {
        expect(arrays(d).length).to.be.below(64 * 1024);
        await refused(payments, await send(payments, { body: arrays(d) }), "nesting_too_deep");
      }
      // 32 levels in all are fine as far as nesting goes (the schema refuses what they hold).
      await refused(payments, await send(payments, { body: arrays(30) }), "validation_error");
      for (const e of bodied()) {
        await refused(e, await send(e, { body: arrays(8_000) }), "nesting_too_deep");
        await refused(e, await send(e, { body: objects(8_000) }), "nesting_too_deep");
      }
    });

    it("dead-letters a NATS command holding a NUL or a lone surrogate and appends nothing to PAY_EVT", async () => {
      const cmd = await payCmd(p.env);
      const cardKey = p.config.cardKey!;
      const keys = deriveFingerprintKeys(cardKey);
      try {
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ reference: NUL }, "command.reference"],
          [{ metadata: { [`k${LONE}`]: "x" } }, "command.metadata.[key]"],
        ];
        for (const [extra, path] of cases) {
          const idempotencyKey = randomBytes(8).toString("hex");
          const good = createPaymentEnvelope(
            {
              merchantId: p.merchants[0]!.merchantId,
              idempotencyKey,
              keys,
              at: new Date().toISOString(),
              cardKey,
            },
            { ...paymentBody(), capture: "manual", currency: "EUR" } as never,
          );
          const envelope = { ...good, command: { ...good.command, ...extra } };
          const id = good.command.paymentId;
          await cmd.send(envelope, `nul-${id}`);
          const dead = await waitFor(
            async () =>
              (
                await p.ops.get<{ dead_letters: Array<{ subject: string; reason: string; error: string }> }>(
                  "/ops/dead-letters",
                )
              ).body.dead_letters.find((d) => d.subject.endsWith(id)),
            { timeoutMs: 15_000, what: `the command of ${id} dead-lettered` },
          );
          expect(dead.reason).to.equal("invalid_text");
          expect(dead.error).to.include(path);
          expect(await p.worker!.journal.history(id)).to.deep.equal([]);
        }
        const metrics = await (await fetch(`${p.url}/metrics`)).text();
        for (const code of ["nul_character", "lone_surrogate"]) {
          expect(metrics).to.match(
            new RegExp(`switchyard_inputs_refused_total\\{edge="nats",code="${code}"\\} [1-9]`),
          );
        }
        expect(metrics).to.match(/switchyard_dead_letters_total\{reason="invalid_text"\} [1-9]/);
      } finally {
        await cmd.close();
      }
    });

    it("logs and echoes no card number sent in a URL path or query string, on any endpoint", async () => {
      const answers: string[] = [];
      const unechoed = async (what: string, res: Response) => {
        expect(res.status, what).to.be.within(400, 499);
        const text = await res.text();
        expect(text, what).not.to.include(PAN_IN_URL);
        answers.push(text);
      };
      for (const e of endpoints) {
        for (const param of e.params) {
          const path = e.template.replace(/\{(\w+)\}/g, (_, n: string) =>
            n === param ? PAN_IN_URL : PARAM_VALUES[n]!,
          );
          await unechoed(`${e.method} ${path}`, await send(e, { path }));
        }
        await unechoed(`${e.method} ${e.path}?q=…`, await send(e, { path: `${e.path}?q=${PAN_IN_URL}` }));
        await unechoed(`${e.method} ${e.path}/…`, await send(e, { path: `${e.path}/${PAN_IN_URL}` }));
      }
      const alphaGet = await alpha.get(`/v1/payments/${PAN_IN_URL}`);
      expect(alphaGet.status).to.equal(400);
      expect(alphaGet.body.error.code).to.equal("card_number_in_free_text");
      expect(logs.lines.length).to.be.above(0);
      const leaked = logs.lines.filter((l) => l.includes(PAN_IN_URL));
      expect(leaked, leaked.join("\n")).to.deep.equal([]);
    });

    it("refuses __proto__ and constructor.prototype keys (escaped or not), and keeps only the last of duplicate keys", async () => {
      const e = endpoints.find((x) => x.method === "POST" && x.template === "/v1/payments")!;
      const body = JSON.stringify({ ...paymentBody(), metadata: { order: "1" } });
      for (const poison of [
        '"__proto__":{"admin":"yes"}',
        '"\\u005f_proto__":{"admin":"yes"}',
        '"constructor":{"prototype":{"admin":"yes"}}',
      ]) {
        const key = randomBytes(8).toString("hex");
        const res = await send(e, {
          body: body.replace('"order":"1"', poison),
          headers: { "idempotency-key": key },
        });
        await refused(e, res, "invalid_json");
        const id = paymentIdFor(p.merchants[0]!.merchantId, key);
        expect(await p.worker!.journal.history(id)).to.deep.equal([]);
      }
      // JSON.parse keeps the last of repeated keys: what is checked is what is stored.
      const twice = body.replace('"order":"1"', '"order":"ok","order":"a\\u0000b"');
      await refused(e, await send(e, { body: twice }), "invalid_characters", "metadata.order");
    });
  });
});
