// GET /schemas, /schemas/{name}/{version}.json and /asyncapi.json on the real gateway: the committed
// files, byte for byte, without a key; an unknown message or version is 404 schema_not_found; a name
// or version that is not one (path tricks, NUL, lone surrogates, long names) is a 4xx in the
// gateway's error envelope, never a file from elsewhere and never a 500.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REGISTRY } from "../../gateway/contract/registry.ts";
import { rawRequest } from "../support/raw-http.ts";
import { startGateway, type Harness } from "./gateway-harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const committed = (path: string): string => readFileSync(join(ROOT, path), "utf8");

type ErrorBody = { error: { code: string; message: string; details: Record<string, unknown> } };

describe("gateway: the NATS contract's routes", function () {
  let h: Harness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h?.close();
  });

  /** A request line sent as written: fetch would normalize `..` and re-encode what we send. */
  async function raw(path: string): Promise<{ status: number; body: string }> {
    const { host } = new URL(h.url);
    return rawRequest(h.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close`);
  }

  async function refused(path: string): Promise<ErrorBody & { status: number }> {
    const res = await raw(path);
    expect(res.status, `${path.slice(0, 80)} → ${res.status} ${res.body.slice(0, 200)}`).to.be.within(
      400,
      499,
    );
    const body = JSON.parse(res.body) as ErrorBody;
    expect(body.error.code, path.slice(0, 80)).to.be.a("string").and.not.equal("internal_error");
    return { ...body, status: res.status };
  }

  it("serves the index, every listed version and the AsyncAPI document as committed, without a key", async () => {
    const index = await h.call("GET", "/schemas", { key: null });
    expect(index.status).to.equal(200);
    expect(index.headers.get("content-type")).to.match(/^application\/json/);
    expect(await index.text()).to.equal(committed("schemas/index.json"));
    for (const m of REGISTRY)
      for (const v of m.versions) {
        const res = await h.call("GET", `/schemas/${m.name}/${v.version}.json`, { key: null });
        expect(res.status, `${m.name} v${v.version}`).to.equal(200);
        expect(await res.text()).to.equal(committed(`schemas/${m.name}/${v.version}.json`));
      }
    const asyncapi = await h.call("GET", "/asyncapi.json", { key: null });
    expect(asyncapi.status).to.equal(200);
    expect(await asyncapi.text()).to.equal(committed("schemas/asyncapi.json"));
  });

  it("answers 404 schema_not_found for a message or a version the registry does not have", async () => {
    for (const [path, details] of [
      ["/schemas/no-such-message/1.json", { name: "no-such-message", version: 1 }],
      ["/schemas/dead-letter/9.json", { name: "dead-letter", version: 9 }],
      ["/schemas/event-frame/3.json", { name: "event-frame", version: 3 }],
    ] as const) {
      const res = await h.call("GET", path, { key: null });
      expect(res.status, path).to.equal(404);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).to.equal("schema_not_found");
      expect(body.error.details).to.deep.equal(details);
    }
  });

  it("counts the routes in the gateway's HTTP metric by route pattern and status, a 404 as its own series", async () => {
    await h.call("GET", "/schemas/no-such-message/1.json", { key: null });
    const metrics = await (await h.call("GET", "/metrics", { key: null })).text();
    expect(metrics).to.match(
      /switchyard_http_request_duration_seconds_count\{[^}]*route="\/schemas\/:name\/:file"[^}]*status="404"[^}]*\} [1-9]/,
    );
    expect(metrics).to.match(/switchyard_http_request_duration_seconds_count\{[^}]*route="\/asyncapi.json"/);
  });

  it("does not serve fixtures or anything else under schemas/", async () => {
    const fixture = await refused("/schemas/dead-letter/fixtures/1/undecodable.json");
    expect(fixture.status).to.equal(404);
    expect(fixture.error.code).to.equal("not_found");
  });

  describe("names and versions that are not one", () => {
    const cases: Array<[string, string, string]> = [
      ["a parent directory", "/schemas/../package.json", "validation_error"],
      ["an encoded parent directory", "/schemas/%2e%2e/1.json", "validation_error"],
      ["an encoded slash in the name", "/schemas/..%2F..%2Fpackage/1.json", "validation_error"],
      ["an encoded slash in the version", "/schemas/dead-letter/..%2F1.json", "validation_error"],
      ["an encoded backslash", "/schemas/dead-letter%5C..%5Cindex/1.json", "validation_error"],
      ["a NUL in the name", "/schemas/dead-letter%00/1.json", "invalid_characters"],
      ["a NUL in the version", "/schemas/dead-letter/1.json%00", "invalid_characters"],
      ["a lone surrogate (CESU-8 bytes)", "/schemas/%ED%A0%80/1.json", "malformed_request"],
      ["an overlong UTF-8 dot", "/schemas/%C0%AE%C0%AE/1.json", "malformed_request"],
      ["a name past 64 characters", `/schemas/${"a".repeat(65)}/1.json`, "validation_error"],
      ["a very long name", `/schemas/${"a".repeat(5_000)}/1.json`, "uri_too_long"],
      ["capitals", "/schemas/Dead-Letter/1.json", "validation_error"],
      ["a version with a leading zero", "/schemas/dead-letter/01.json", "validation_error"],
      ["version 0", "/schemas/dead-letter/0.json", "validation_error"],
      ["a negative version", "/schemas/dead-letter/-1.json", "validation_error"],
      ["a version in exponent form", "/schemas/dead-letter/1e3.json", "validation_error"],
      ["a version past six digits", "/schemas/dead-letter/1234567.json", "validation_error"],
      ["another extension", "/schemas/dead-letter/1.JSON", "validation_error"],
      ["a double extension", "/schemas/dead-letter/1.json.bak", "validation_error"],
      ["no extension", "/schemas/dead-letter/1", "validation_error"],
      ["a URL that does not decode", "/schemas/%/1.json", "malformed_request"],
    ];
    for (const [what, path, code] of cases)
      it(`answers ${code} in the error envelope for ${what}`, async () => {
        expect((await refused(path)).error.code).to.equal(code);
      });

    it("says which part is wrong: 400 validation_error naming the parameter", async () => {
      const res = await h.call("GET", "/schemas/dead-letter/01.json", { key: null });
      expect(res.status).to.equal(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).to.equal("validation_error");
      expect(JSON.stringify(body.error.details)).to.contain("file");
    });

    it("keeps serving after all of them", async () => {
      expect((await h.call("GET", "/schemas/dead-letter/1.json", { key: null })).status).to.equal(200);
    });
  });

  it("documents the three routes in /openapi.json, with no key needed", async () => {
    const doc = (await (await h.call("GET", "/openapi.json", { key: null })).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    for (const path of ["/schemas", "/schemas/{name}/{file}", "/asyncapi.json"])
      expect(doc.paths[path]?.get?.security, path).to.deep.equal([]);
    expect(doc.paths["/schemas/{name}/{file}"]?.get?.responses).to.include.keys("200", "400", "404");
  });
});
