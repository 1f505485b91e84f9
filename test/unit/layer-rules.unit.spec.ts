// The guardrails that look enforced are: each layer rule of .dependency-cruiser.cjs and ESLint's
// no-cycle rule is broken on purpose here, and must fail. The probes live in temporary folders
// (their own per run) and are removed afterwards.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { ESLint } from "eslint";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const DEPCRUISE = join(ROOT, "node_modules/.bin/depcruise");

/** Runs dependency-cruiser with the project's rules over a tree of probe files; returns the rules broken. */
async function brokenRules(files: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "sy-layers-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "NodeNext", allowImportingTsExtensions: true, noEmit: true },
      }),
    );
    const out = await run(
      DEPCRUISE,
      [
        ...new Set(Object.keys(files).map((f) => f.split("/")[0]!)),
        "--config",
        join(ROOT, ".dependency-cruiser.cjs"),
        "--output-type",
        "json",
      ],
      { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
    const result = JSON.parse(out.stdout) as { summary: { violations: Array<{ rule: { name: string } }> } };
    return [...new Set(result.summary.violations.map((v) => v.rule.name))].sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One probe tree per case, cruised at once (each its own process and folder): the rules each broke. */
function probes<T>(cases: readonly T[], tree: (c: T) => Record<string, string>): Promise<string[][]> {
  return Promise.all(cases.map((c) => brokenRules(tree(c))));
}

describe("layer rules (npm run verify)", function () {
  this.timeout(120_000);

  it("passes a tree that keeps every rule", async () => {
    expect(
      await brokenRules({
        "actors/payment/core/decide.ts":
          'import { money } from "./money.ts";\nimport { r } from "../../policy/core/retry.ts";\nexport const d = money + r;\n',
        "actors/payment/core/money.ts": "export const money = 1;\n",
        "actors/policy/core/retry.ts": "export const r = 1;\n",
        // Beside the core, the I/O around it may do I/O.
        "actors/payment/journal.ts":
          'import { readFileSync } from "node:fs";\nimport { d } from "./core/decide.ts";\nexport const j = [readFileSync, d];\n',
        "streams/event-store.ts": 'import { env } from "../config/env.ts";\nexport const s = env;\n',
        "config/env.ts": "export const env = 1;\n",
      }),
    ).to.deep.equal([]);
  });

  it("fails when the pure core imports infrastructure", async () => {
    expect(
      await brokenRules({
        "actors/payment/core/decide.ts":
          'import { s } from "../../streams/event-store.ts";\nexport const d = s;\n',
        "streams/event-store.ts": "export const s = 1;\n",
      }),
    ).to.include("core-is-pure");
  });

  it("holds the ledger's rules, the settlement contracts and the rules moved out of streams/ to the pure core too", async () => {
    const cores = [
      "actors/ledger/core/postings.ts",
      "actors/settlement/core/line.ts",
      "actors/policy/core/workflow.ts",
      "actors/merchants/core/keys.ts",
      "actors/webhooks/core/endpoint-rules.ts",
    ];
    const broken = await probes(cores, (core) => ({
      [core]: 'import { s } from "../../streams/event-store.ts";\nexport const d = s;\n',
      "streams/event-store.ts": "export const s = 1;\n",
    }));
    cores.forEach((core, i) => expect(broken[i], core).to.include("core-is-pure"));
  });

  it("checks a new file in a core folder as pure by where it is put, no name to add to a list", async () => {
    const files = [
      [
        "actors/payment/core/brand-new.ts",
        'import { readFileSync } from "node:fs";\nexport const d = readFileSync;\n',
      ],
      [
        "actors/refunds/core/rules.ts",
        'import { s } from "../../../streams/event-store.ts";\nexport const d = s;\n',
      ],
      ["actors/ledger/core/totals.ts", 'import { w } from "../../worker.ts";\nexport const d = w;\n'],
    ] as const;
    const broken = await probes(files, ([file, text]) => ({
      [file]: text,
      "streams/event-store.ts": "export const s = 1;\n",
      "actors/worker.ts": "export const w = 1;\n",
    }));
    files.forEach(([file], i) => expect(broken[i], file).to.include("core-is-pure"));
  });

  it("fails when streams/ imports the decider", async () => {
    expect(
      await brokenRules({
        "streams/event-store.ts":
          'import { d } from "../actors/payment/core/evolve.ts";\nexport const s = d;\n',
        "actors/payment/core/evolve.ts": "export const d = 1;\n",
      }),
    ).to.include("streams-knows-no-domain");
  });

  it("fails when streams/ imports webhook or settlement code, or the policy workflow", async () => {
    const domains = [
      "actors/webhooks/core/endpoint-rules.ts",
      "actors/webhooks/sender.ts",
      "actors/settlement/core/match.ts",
      "actors/settlement/store.ts",
      "actors/policy/core/workflow.ts",
    ];
    const broken = await probes(domains, (domain) => ({
      "streams/webhook-endpoints.ts": `import { d } from "../${domain}";\nexport const s = d;\n`,
      [domain]: "export const d = 1;\n",
    }));
    domains.forEach((domain, i) => expect(broken[i], domain).to.include("streams-knows-no-domain"));
  });

  it("lets streams/ read the schemas of the documents it stores, and infra.ts open the policy store", async () => {
    expect(
      await brokenRules({
        "streams/policy-records.ts":
          'import { d } from "../actors/policy/core/schemas.ts";\nexport const s = d;\n',
        "streams/merchant-records.ts":
          'import { k } from "../actors/merchants/core/keys.ts";\nexport const s = k;\n',
        "streams/infra.ts": 'import { p } from "../actors/policy/store.ts";\nexport const i = p;\n',
        "actors/policy/core/schemas.ts": "export const d = 1;\n",
        "actors/merchants/core/keys.ts": "export const k = 1;\n",
        "actors/policy/store.ts": "export const p = 1;\n",
      }),
    ).to.deep.equal([]);
  });

  it("holds streams/infra.ts to the rule but for the policy store", async () => {
    expect(
      await brokenRules({
        "streams/infra.ts": 'import { w } from "../actors/webhooks/service.ts";\nexport const i = w;\n',
        "actors/webhooks/service.ts": "export const w = 1;\n",
      }),
    ).to.include("infra-composes-only-the-policy-store");
  });

  it("fails when production code imports scripts/", async () => {
    expect(
      await brokenRules({
        "gateway/main.ts": 'import { run } from "../scripts/run.ts";\nexport const m = run;\n',
        "scripts/run.ts": "export const run = 1;\n",
      }),
    ).to.include("nothing-imports-scripts");
  });

  it("fails when config/ imports the platform", async () => {
    expect(
      await brokenRules({
        "config/log.ts": 'import { s } from "../streams/topology.ts";\nexport const l = s;\n',
        "streams/topology.ts": "export const s = 1;\n",
      }),
    ).to.include("config-is-the-base");
  });

  it("fails on an import cycle", async () => {
    expect(
      await brokenRules({
        "streams/a.ts": 'import { b } from "./b.ts";\nexport const a = () => b;\n',
        "streams/b.ts": 'import { a } from "./a.ts";\nexport const b = () => a;\n',
      }),
    ).to.include("no-cycles");
  });

  it("makes ESLint's import-x/no-cycle report a two-file cycle in TypeScript", async () => {
    // Inside the project (the type-aware lint needs its tsconfig), in a folder of this run's own.
    const dir = join(ROOT, "test", `cycle-probe-${randomBytes(4).toString("hex")}`);
    mkdirSync(dir);
    try {
      writeFileSync(
        join(dir, "a.ts"),
        'import { b } from "./b.ts";\nexport const a = (): number => b() + 1;\n',
      );
      writeFileSync(join(dir, "b.ts"), 'import { a } from "./a.ts";\nexport const b = (): number => a();\n');
      const results = await new ESLint({ cwd: ROOT }).lintFiles([join(dir, "a.ts"), join(dir, "b.ts")]);
      const rules = results.flatMap((r) => r.messages.map((m) => m.ruleId));
      expect(rules.filter((r) => r === "import-x/no-cycle")).to.have.length(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
