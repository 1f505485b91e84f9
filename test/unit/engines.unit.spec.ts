// The Node versions the project says it runs on (package.json `engines.node`, the README's "Node
// 20.19+") are ones every installed package runs on too: a dependency that wants a newer Node
// (npm ci's EBADENGINE warning) fails here, naming it. package.json's `overrides` pins such a
// dependency to a release that still supports them, or the project's range moves up.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { admitsAll, satisfies } from "../support/node-range.ts";

type Manifest = { name?: string; version?: string; engines?: { node?: unknown } };

/** Every package under node_modules, nested ones included: `[name@version, engines.node]`. */
function installed(dir: string): Array<{ pkg: string; node: string }> {
  const out: Array<{ pkg: string; node: string }> = [];
  const visit = (modules: string) => {
    let entries: string[];
    try {
      entries = readdirSync(modules);
    } catch {
      return;
    }
    for (const name of entries) {
      if (name.startsWith(".")) continue;
      const dirs = name.startsWith("@") ? readdirSync(join(modules, name)).map((n) => join(name, n)) : [name];
      for (const d of dirs) {
        let m: Manifest;
        try {
          m = JSON.parse(readFileSync(join(modules, d, "package.json"), "utf8")) as Manifest;
        } catch {
          continue;
        }
        if (typeof m.engines?.node === "string")
          out.push({ pkg: `${m.name}@${m.version}`, node: m.engines.node });
        visit(join(modules, d, "node_modules"));
      }
    }
  };
  visit(join(dir, "node_modules"));
  return out;
}

describe("supported Node versions", () => {
  const project = (JSON.parse(readFileSync("package.json", "utf8")) as Manifest).engines?.node;

  it("reads version ranges as npm does", () => {
    expect(admitsAll(">=18", ">=20.19")).to.equal(true);
    expect(admitsAll(">= 18.x", ">=20.19")).to.equal(true);
    expect(admitsAll(">= 22.x", ">=20.19")).to.equal(false);
    expect(admitsAll(">=22", ">=20.19")).to.equal(false);
    expect(admitsAll("^18.18.0 || ^20.9.0 || >=21.1.0", ">=20.19")).to.equal(false); // 21.0.x left out
    expect(admitsAll("^18.18.0 || ^20.9.0 || >=21.1.0", "^20.19.0 || ^22.13.0 || >=24")).to.equal(true);
    expect(admitsAll("20 || >=22", "^20.19.0 || ^22.13.0 || >=24")).to.equal(true);
    expect(admitsAll("^20.19.0 || ^22.12.0 || >=24", "^20.19.0 || ^22.13.0 || >=24")).to.equal(true);
    expect(admitsAll("^20.19.0 || ^22.14.0 || >=24", "^20.19.0 || ^22.13.0 || >=24")).to.equal(false);
    expect(admitsAll("^20.19.0 || ^22.12.0 || >=23", ">=20.19")).to.equal(false); // 21.x left out
    expect(admitsAll("^20.19.0 || >=22.12.0", ">=20.19")).to.equal(false); // 22.0 – 22.11 left out
    expect(admitsAll("^20.20.0 || >=22", ">=20.19")).to.equal(false);
    expect(admitsAll(">=14 <21", ">=20.19")).to.equal(false);
    expect(admitsAll("14 || 16 || >=18", ">=20.19")).to.equal(true);
    expect(admitsAll("*", ">=20.19")).to.equal(true);
    expect(admitsAll("12 - 24", ">=20.19 <25")).to.equal(true);
    expect(admitsAll("~20.19.1 || >=21", ">=20.19")).to.equal(false);
    expect(satisfies("20.19.0", ">=20.19")).to.equal(true);
    expect(satisfies("20.18.3", ">=20.19")).to.equal(false);
  });

  it("declares a range the Node running the tests is in", () => {
    expect(project).to.be.a("string");
    expect(satisfies(process.versions.node, project as string), process.versions.node).to.equal(true);
  });

  it("needs no Node version that an installed package refuses", () => {
    const all = installed(".");
    expect(all.length).to.be.greaterThan(20);
    const refusing = all
      .filter((p) => !admitsAll(p.node, project as string))
      .map((p) => `${p.pkg} wants node ${p.node}`);
    expect(refusing, `the project says node ${project as string}`).to.deep.equal([]);
  });
});
