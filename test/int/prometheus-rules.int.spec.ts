// The operations pack (deploy/, docs/runbooks/) kept honest: promtool accepts the rules and their
// unit tests pass, every alert has its runbook and every runbook its alert, and every metric the
// rules and the dashboard read is one the code exports — so a renamed metric breaks this test, not
// an alert on the night it was needed.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { createMetrics } from "../../config/metrics.ts";
import { requireCommand } from "../support/tools.ts";

const PROM = "deploy/prometheus";
const RULE_FILES = ["recording.yml", "alerts.yml"].map((f) => join(PROM, f));
const TEST_FILES = readdirSync(join(PROM, "tests"))
  .filter((f) => f.endsWith(".yml"))
  .map((f) => join(PROM, "tests", f));
const DASHBOARD = "deploy/grafana/switchyard.json";
const RUNBOOKS = "docs/runbooks";
const RUNBOOK_URL = "https://github.com/switchyard/switchyard/blob/main/docs/runbooks/";

/** Metrics the rules name before the code exports them; each must still be absent from the code. */
const PENDING_METRICS: Record<string, string> = {};

function promtool(args: string[]): { status: number | null; output: string } {
  requireCommand("promtool");
  const r = spawnSync("promtool", args, { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

type AlertRule = { alert: string; block: string };

/** The alerting rules of alerts.yml, one text block each (from `- alert:` to the next rule). */
function alertRules(): AlertRule[] {
  const text = readFileSync(join(PROM, "alerts.yml"), "utf8");
  return text
    .split(/^\s*- (?=alert:|record:)/m)
    .slice(1)
    .filter((b) => b.startsWith("alert:"))
    .map((block) => ({ alert: /^alert: (\w+)/.exec(block)![1]!, block }));
}

/** Every switchyard_ metric name a text holds (recording rules are switchyard:…, so not matched). */
function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\bswitchyard_[a-z0-9_]+/g)].map(([name]) => name));
}

/** What the code exports, a histogram with its _bucket, _count and _sum samples. */
async function exportedMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await createMetrics({ defaultMetrics: true }).registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram" || String(m.type) === "summary")
      for (const suffix of ["_bucket", "_count", "_sum"]) names.add(m.name + suffix);
  }
  return names;
}

type Panel = { type?: string; title?: string; targets?: { expr?: string }[]; panels?: Panel[] };

describe("Prometheus rules, runbooks and the Grafana dashboard", () => {
  it("promtool check rules accepts the recording and alerting rules", () => {
    const r = promtool(["check", "rules", ...RULE_FILES]);
    expect(r.status, r.output).to.equal(0);
  });

  it("promtool test rules passes: every alert fires when it should and not otherwise", function () {
    this.timeout(120_000);
    expect(TEST_FILES).to.not.be.empty;
    const r = promtool(["test", "rules", ...TEST_FILES]);
    expect(r.status, r.output).to.equal(0);
  });

  it("every alert rule has a severity, a summary, a description and a runbook_url", () => {
    const rules = alertRules();
    expect(rules.length).to.be.greaterThan(8);
    for (const { alert, block } of rules) {
      expect(block, alert).to.match(/\n\s+severity: (page|ticket)\n/);
      for (const key of ["summary", "description", "runbook_url"]) expect(block, alert).to.contain(`${key}:`);
      const url = /runbook_url: (\S+)/.exec(block)?.[1];
      expect(url, alert).to.equal(`${RUNBOOK_URL}${alert}.md`);
    }
  });

  it("every alert's runbook exists, and every runbook belongs to an alert", () => {
    const alerts = new Set(alertRules().map((r) => r.alert));
    for (const alert of alerts)
      expect(existsSync(join(RUNBOOKS, `${alert}.md`)), `${alert}.md`).to.equal(true);
    const runbooks = readdirSync(RUNBOOKS).filter((f) => f.endsWith(".md") && f !== "README.md");
    for (const file of runbooks) expect(alerts.has(file.replace(/\.md$/, "")), file).to.equal(true);
  });

  it("every runbook says what the alert means, how to confirm it, what to do and how to verify", () => {
    for (const file of readdirSync(RUNBOOKS).filter((f) => f.endsWith(".md") && f !== "README.md")) {
      const text = readFileSync(join(RUNBOOKS, file), "utf8");
      for (const heading of ["## Meaning", "## Confirm", "## Act", "## Verify"])
        expect(text, `${file}: ${heading}`).to.contain(heading);
    }
  });

  it("the dashboard is importable JSON whose every panel has a title and queries", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
      title?: string;
      uid?: string;
      schemaVersion?: number;
      panels?: Panel[];
    };
    expect(dashboard.title).to.be.a("string");
    expect(dashboard.uid).to.be.a("string");
    expect(dashboard.schemaVersion).to.be.at.least(36);
    const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
    const graphs = panels.filter((p) => p.type !== "row");
    expect(graphs.length).to.be.greaterThan(10);
    for (const p of graphs) {
      expect(p.title, JSON.stringify(p).slice(0, 80)).to.be.a("string").and.not.empty;
      expect(p.targets?.length, p.title).to.be.greaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, p.title).to.be.a("string").and.not.empty;
    }
  });

  it("every metric the rules and the dashboard read is exported by config/metrics.ts", async () => {
    const exported = await exportedMetrics();
    for (const file of [...RULE_FILES, DASHBOARD]) {
      for (const name of metricNames(readFileSync(file, "utf8"))) {
        if (name in PENDING_METRICS) continue;
        expect(exported.has(name), `${file} reads ${name}, which no code exports`).to.equal(true);
      }
    }
    for (const [name, why] of Object.entries(PENDING_METRICS))
      expect(exported.has(name), `${name} is exported now (${why}): drop it from PENDING_METRICS`).to.equal(
        false,
      );
  });
});
