// A V8 heap snapshot summed by constructor name (self size and count), the way DevTools' "Summary"
// groups it: objects by their constructor, everything else by its node type. For the phase mode's
// memory figure (scripts/bench/memory.ts), where the janitor's open-payment map and the webhook
// dispatcher's cache are private fields no object returned by startPlatform reaches.
//
// The snapshot is read in a child process, streamed line by line (V8 writes one node and one string
// per line), so neither its size nor the parse lands in the RSS of the process being measured:
//   npx tsx scripts/bench/heap-summary.ts file.heapsnapshot [top]   prints JSON
import { execFile } from "node:child_process";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export type HeapRow = { name: string; selfBytes: number; count: number };
export type HeapSummary = { totalBytes: number; nodes: number; top: HeapRow[] };

/** Summarize `file` in a child process (node + tsx); resolves to its top `top` rows. */
export function summarizeInChild(file: string, top = 15): Promise<HeapSummary> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", fileURLToPath(import.meta.url), file, String(top)],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout) => {
        if (err) return reject(new Error(`heap summary failed: ${err.message}`));
        try {
          resolve(JSON.parse(stdout) as HeapSummary);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
    );
  });
}

export async function summarize(file: string, top: number): Promise<HeapSummary> {
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let section: "head" | "nodes" | "skip" | "strings" = "head";
  let types: string[] = [];
  let width = 7;
  let [typeAt, nameAt, sizeAt] = [0, 1, 3];
  // Objects and natives by constructor name; arrays and hidden nodes by type and name (a Map's
  // backing store is an array named for its kind); the rest by type alone. key: "type:name index".
  const sums = new Map<string, { bytes: number; count: number }>();
  const wanted = new Set<number>();
  let totalBytes = 0;
  let nodes = 0;
  const names = new Map<number, string>();
  let stringIndex = 0;
  const node = (fields: number[]) => {
    const type = fields[typeAt]!;
    const typeName = types[type] ?? "?";
    const named = ["object", "native", "array", "hidden"].includes(typeName);
    const key = named ? `${type}:${fields[nameAt]!}` : `${type}:`;
    if (named) wanted.add(fields[nameAt]!);
    const size = fields[sizeAt]!;
    const s = sums.get(key);
    if (s) {
      s.bytes += size;
      s.count++;
    } else sums.set(key, { bytes: size, count: 1 });
    totalBytes += size;
    nodes++;
  };
  for await (const raw of lines) {
    if (section === "head") {
      if (raw.startsWith('{"snapshot":')) {
        const meta = (JSON.parse(raw.replace(/,\s*$/, "") + "}") as { snapshot: { meta: Meta } }).snapshot
          .meta;
        const f = meta.node_fields;
        width = f.length;
        [typeAt, nameAt, sizeAt] = [f.indexOf("type"), f.indexOf("name"), f.indexOf("self_size")];
        types = meta.node_types[0] as string[];
      } else if (raw.startsWith('"nodes":[')) {
        section = "nodes";
        node(raw.slice(9).split(",").map(Number));
      }
      continue;
    }
    if (section === "nodes") {
      if (raw.startsWith(",")) {
        const fields = raw.slice(1).split(",").map(Number);
        if (fields.length >= width) node(fields);
      } else section = "skip";
      continue;
    }
    if (section === "skip") {
      if (raw.startsWith('"strings":[')) {
        section = "strings";
        keepName(raw.slice(11));
      }
      continue;
    }
    keepName(raw);
  }
  function keepName(line: string) {
    const i = stringIndex++;
    if (!wanted.has(i)) return;
    const text = line.replace(/(,|\]\})\s*$/, "");
    try {
      names.set(i, JSON.parse(text) as string);
    } catch {
      names.set(i, text.slice(0, 60));
    }
  }
  const rows: HeapRow[] = [...sums].map(([key, s]) => {
    const [type, name] = key.split(":");
    const typeName = types[Number(type)] ?? "?";
    const text = name === "" ? "" : (names.get(Number(name)) ?? `#${name}`).slice(0, 60);
    return {
      name: typeName === "object" || typeName === "native" ? text : `(${typeName})${text ? ` ${text}` : ""}`,
      selfBytes: s.bytes,
      count: s.count,
    };
  });
  rows.sort((a, b) => b.selfBytes - a.selfBytes);
  return { totalBytes, nodes, top: rows.slice(0, top) };
}

type Meta = { node_fields: string[]; node_types: unknown[] };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write("usage: heap-summary.ts file.heapsnapshot [top]\n");
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(await summarize(file, Number(top ?? 15)))}\n`);
}
