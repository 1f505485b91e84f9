// What the platform's own table upkeep does where no autovacuum runs: autovacuum's default
// thresholds (vacuum past 50 + 20 % dead rows, analyze past 50 + 10 % changed), and no name that is
// not a plain table name put into a statement.
import { expect } from "chai";
import { upkeepDue } from "../../streams/db/upkeep.ts";

const t = (table: string, live: number, dead: number, changedSinceAnalyze: number) => ({
  table,
  live,
  dead,
  changedSinceAnalyze,
});

describe("database upkeep: what is due", () => {
  it("vacuums past 50 + 20 % dead rows, analyzes past 50 + 10 % changed, leaves the rest", () => {
    expect(
      upkeepDue([
        t("webhook_deliveries", 10_000, 2_051, 0),
        t("payments", 10_000, 2_050, 1_051),
        t("ledger_entries", 10_000, 0, 1_050),
        t("fresh", 0, 0, 51),
        t("empty", 0, 0, 0),
      ]),
    ).to.deep.equal([
      { table: "webhook_deliveries", action: "vacuum" },
      { table: "payments", action: "analyze" },
      { table: "fresh", action: "analyze" },
    ]);
  });

  it("a vacuum analyzes too: one action a table", () => {
    expect(upkeepDue([t("payments", 100, 1_000, 1_000)])).to.deep.equal([
      { table: "payments", action: "vacuum" },
    ]);
  });

  it("never names a table that is not a plain lower-case name", () => {
    const odd = ["Payments", "a; drop table payments", 'x"y', "", "a".repeat(64), "tab le"];
    expect(upkeepDue(odd.map((name) => t(name, 0, 1_000, 1_000)))).to.deep.equal([]);
  });
});
