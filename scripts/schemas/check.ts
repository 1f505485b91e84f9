// The registry's gate (`npm run schemas:check`): the committed files under a root against what the
// registry generates. A published version's schema that would change is refused with "add a new
// version"; anything else out of date says to run `npm run schemas`. Returns the problems, one per
// file, each naming it; none: the files match.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REGISTRY, type RegisteredMessage } from "../../gateway/contract/registry.ts";
import { generatedFiles, schemaPath } from "./generate.ts";

const VERSION_FILE = /^schemas\/[a-z0-9-]+\/[1-9][0-9]*\.json$/;

export async function checkSchemas(
  root: string,
  registry: readonly RegisteredMessage[] = REGISTRY,
): Promise<string[]> {
  const committed = (path: string): string | undefined =>
    existsSync(join(root, path)) ? readFileSync(join(root, path), "utf8") : undefined;
  const problems: string[] = [];
  let files: Map<string, string>;
  try {
    files = await generatedFiles(committed, registry);
  } catch (err) {
    return [(err as Error).message];
  }
  for (const [path, text] of files) {
    const kept = committed(path);
    if (kept === undefined) problems.push(`${path}: not committed; run npm run schemas`);
    else if (kept === text) continue;
    else if (VERSION_FILE.test(path))
      problems.push(
        `${path}: the schema of a published version changed; add a new version instead (docs/nats.md, "Adding a version")`,
      );
    else problems.push(`${path}: differs from what the registry generates; run npm run schemas`);
  }
  const registered = new Set(registry.flatMap((m) => m.versions.map((v) => schemaPath(m.name, v.version))));
  const dir = join(root, "schemas");
  for (const name of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    if (!name.isDirectory()) continue;
    for (const f of readdirSync(join(dir, name.name))) {
      const path = `schemas/${name.name}/${f}`;
      if (VERSION_FILE.test(path) && !registered.has(path))
        problems.push(
          `${path}: published but not in the registry; a version is never removed (mark it frozen)`,
        );
    }
  }
  return problems;
}
