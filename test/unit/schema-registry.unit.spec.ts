// The schema registry's promises: every version of every message has realistic fixtures; today's
// reader (the parse the code reads that message with) accepts every fixture of every version, and so
// does the committed JSON Schema of that version; the committed files are what the registry
// generates; and a breaking change is caught — by the reader, by the JSON Schema, and by the check.
import { expect } from "chai";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020Module from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { z } from "zod";
import { DeadLetter } from "../../streams/dead-letters.ts";
import { REGISTRY, type RegisteredMessage } from "../../gateway/contract/registry.ts";
import { checkSchemas } from "../../scripts/schemas/check.ts";
import { generatedFiles } from "../../scripts/schemas/generate.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(ROOT, path), "utf8"));

function fixturesOf(name: string, version: number): Array<{ file: string; json: unknown }> {
  const dir = `schemas/${name}/fixtures/${version}`;
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: `${dir}/${f}`, json: readJson(`${dir}/${f}`) }));
}

const isUnion = (schema: z.ZodType): boolean => schema instanceof z.ZodUnion;

// ajv is CommonJS: under Node's ESM its class is the module's default export's `default`.
const Ajv2020 = Ajv2020Module.default;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const validatorOf = (path: string) =>
  ajv.getSchema(String((readJson(path) as { $id: string }).$id)) ?? ajv.compile(readJson(path) as object);

describe("schema registry: fixtures of every version", function () {
  it("names each message once, in kebab case, with versions counted from 1 without gaps", () => {
    const names = REGISTRY.map((m) => m.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const m of REGISTRY) {
      expect(m.name).to.match(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(m.versions.map((v) => v.version)).to.deep.equal(m.versions.map((_, i) => i + 1));
    }
  });

  for (const m of REGISTRY)
    for (const v of m.versions) {
      describe(`${m.name} v${v.version}`, () => {
        const fixtures = fixturesOf(m.name, v.version);

        it("has a fixture (two when the message is a union)", () => {
          const union = "schema" in v && isUnion(v.schema);
          expect(fixtures.length, `schemas/${m.name}/fixtures/${v.version}/`).to.be.at.least(union ? 2 : 1);
        });

        it("reads every fixture with today's reader and the committed JSON Schema", () => {
          const validate = validatorOf(`schemas/${m.name}/${v.version}.json`);
          for (const f of fixtures) {
            expect(() => m.read(f.json), f.file).not.to.throw();
            expect(validate(f.json), `${f.file}: ${ajv.errorsText(validate.errors)}`).to.equal(true);
          }
        });
      });
    }

  it("has no fixtures for a version the registry does not list", () => {
    for (const dir of readdirSync(join(ROOT, "schemas"), { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      const m = REGISTRY.find((r) => r.name === dir.name);
      expect(m, `schemas/${dir.name}`).to.not.equal(undefined);
      const fx = join(ROOT, "schemas", dir.name, "fixtures");
      for (const v of existsSync(fx) ? readdirSync(fx) : [])
        expect(
          m?.versions.map((x) => String(x.version)),
          `schemas/${dir.name}/fixtures/${v}`,
        ).to.include(v);
    }
  });

  it("reads event frames of both versions, v1 without a chain and v2 with one", () => {
    const read = REGISTRY.find((m) => m.name === "event-frame")!.read;
    const [v1] = fixturesOf("event-frame", 1);
    const [v2] = fixturesOf("event-frame", 2);
    expect(read(v1!.json)).to.include({ v: 1 });
    expect(read(v2!.json)).to.include({ v: 2 });
    expect(() => read({ ...(v2!.json as object), prev: "not a digest" })).to.throw();
  });
});

describe("schema registry: compatibility", function () {
  const deadLetter = fixturesOf("dead-letter", 1)[0]!;

  it("an additive change (a new optional field) still reads the old fixtures", () => {
    const widened = DeadLetter.extend({ origin: z.string().optional() });
    expect(widened.safeParse(deadLetter.json).success).to.equal(true);
  });

  it("a breaking change (a new required field) rejects an old fixture, in zod and in JSON Schema", () => {
    const narrowed = DeadLetter.extend({ origin: z.string() });
    expect(narrowed.safeParse(deadLetter.json).success).to.equal(false);
    const schema = readJson("schemas/dead-letter/1.json") as { $id: string; required: string[] };
    const copy = { ...schema, $id: `${schema.$id}:narrowed`, required: [...schema.required, "origin"] };
    expect(ajv.compile(copy)(deadLetter.json)).to.equal(false);
  });

  it("a frame with an event type today's reader does not know is refused: readers are deployed before writers", () => {
    const read = REGISTRY.find((m) => m.name === "event-frame")!.read;
    const frame = fixturesOf("event-frame", 2)[1]!.json as { events: unknown[] };
    expect(() =>
      read({ ...frame, events: [{ type: "PaymentTeleported", at: "2026-12-06T10:00:00.000Z" }] }),
    ).to.throw();
  });
});

describe("schema registry: the check (npm run schemas:check)", function () {
  this.timeout(60_000);
  let copy: string;
  beforeEach(() => {
    copy = mkdtempSync(join(tmpdir(), "schemas-check-"));
    cpSync(join(ROOT, "schemas"), join(copy, "schemas"), { recursive: true });
  });
  afterEach(() => rmSync(copy, { recursive: true, force: true }));

  it("finds the committed files equal to what the registry generates", async () => {
    expect(await checkSchemas(ROOT)).to.deep.equal([]);
  });

  it("refuses a published version whose schema differs, naming the file and saying to add a version", async () => {
    const path = join(copy, "schemas/dead-letter/1.json");
    const schema = JSON.parse(readFileSync(path, "utf8")) as { required: string[] };
    schema.required = schema.required.filter((r) => r !== "reason");
    writeFileSync(path, `${JSON.stringify(schema, null, 2)}\n`);
    const problems = await checkSchemas(copy);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.contain("schemas/dead-letter/1.json").and.contain("add a new version");
  });

  it("says to regenerate when the index or the AsyncAPI document is stale or missing", async () => {
    writeFileSync(join(copy, "schemas/index.json"), "{}\n");
    rmSync(join(copy, "schemas/asyncapi.json"));
    const problems = await checkSchemas(copy);
    expect(problems.join("\n"))
      .to.contain("schemas/index.json: differs")
      .and.contain("schemas/asyncapi.json: not committed");
  });

  it("takes a new version beside a frozen one: the old file kept as published, the new one written", async () => {
    // The cardToken case of docs/nats.md: an optional field added in place, so v1 is frozen.
    const widened = DeadLetter.extend({ origin: z.string().optional() });
    const registry: RegisteredMessage[] = REGISTRY.map((m) =>
      m.name === "dead-letter"
        ? {
            ...m,
            versions: [
              { version: 1, frozen: true },
              { version: 2, schema: widened },
            ],
          }
        : m,
    );
    const before = await checkSchemas(copy, registry);
    expect(before).to.include("schemas/dead-letter/2.json: not committed; run npm run schemas");
    const read = (path: string) =>
      existsSync(join(copy, path)) ? readFileSync(join(copy, path), "utf8") : undefined;
    const v1 = read("schemas/dead-letter/1.json");
    for (const [path, text] of await generatedFiles(read, registry)) writeFileSync(join(copy, path), text);
    expect(await checkSchemas(copy, registry)).to.deep.equal([]);
    expect(read("schemas/dead-letter/1.json")).to.equal(v1);
    const index = JSON.parse(read("schemas/index.json")!) as {
      messages: Array<{ name: string; latest: number }>;
    };
    expect(index.messages.find((m) => m.name === "dead-letter")?.latest).to.equal(2);
    expect(read("schemas/asyncapi.json")).to.contain('"dead-letter-v1"').and.contain('"dead-letter-v2"');
  });

  it("refuses a frozen version whose file is gone", async () => {
    const registry: RegisteredMessage[] = REGISTRY.map((m) =>
      m.name === "dead-letter" ? { ...m, versions: [{ version: 1, frozen: true }] } : m,
    );
    rmSync(join(copy, "schemas/dead-letter/1.json"));
    expect(await checkSchemas(copy, registry)).to.deep.equal([
      "schemas/dead-letter/1.json: frozen in the registry but not committed",
    ]);
  });

  it("refuses a version file the registry does not list (a published version is never removed)", async () => {
    writeFileSync(join(copy, "schemas/dead-letter/2.json"), "{}\n");
    const problems = await checkSchemas(copy);
    expect(problems).to.deep.equal([
      "schemas/dead-letter/2.json: published but not in the registry; a version is never removed (mark it frozen)",
    ]);
  });
});
