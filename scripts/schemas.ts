// `npm run schemas`: writes the schema registry's files (schemas/{name}/{version}.json, index.json,
// asyncapi.json). `npm run schemas:check` (part of `npm run verify`): regenerates them in memory and
// fails, naming the file, when anything differs from what is committed — and when a published
// version's schema changed, says to add a new version instead (docs/nats.md, "Adding a version").
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkSchemas } from "./schemas/check.ts";
import { generatedFiles } from "./schemas/generate.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const committed = (path: string): string | undefined =>
  existsSync(join(ROOT, path)) ? readFileSync(join(ROOT, path), "utf8") : undefined;

const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
try {
  if (values.check) {
    const problems = await checkSchemas(ROOT);
    for (const p of problems) process.stderr.write(`schemas:check: ${p}\n`);
    if (problems.length > 0) process.exit(1);
    process.stdout.write("schemas:check: the committed schemas match the registry\n");
  } else {
    // Writing over a published version would change it: refused, like the check refuses it.
    const changed = (await checkSchemas(ROOT)).filter((p) => p.includes("add a new version"));
    if (changed.length > 0) {
      for (const p of changed) process.stderr.write(`schemas: ${p}\n`);
      process.exit(1);
    }
    const files = await generatedFiles(committed);
    for (const [path, text] of files) {
      mkdirSync(dirname(join(ROOT, path)), { recursive: true });
      if (committed(path) !== text) writeFileSync(join(ROOT, path), text);
    }
    process.stdout.write(`schemas: ${files.size} files up to date\n`);
  }
} catch (err) {
  process.stderr.write(`schemas: ${(err as Error).message}\n`);
  process.exit(1);
}
