// Reads the Prometheus text exposition format (what GET /metrics answers) into samples, so tests
// can look a series up by name and labels whatever order the labels are printed in.
export type Sample = { name: string; labels: Record<string, string>; value: number };

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(LABEL)) labels[k!] = v!.replace(/\\(.)/g, "$1");
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The samples of one series name whose labels include `labels`. */
export function series(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/**
 * The rules `promtool check metrics` applies to an exposition, for machines without promtool:
 * every family has one HELP and one TYPE before its samples; counters end in `_total` and nothing
 * else does; histograms have `_bucket` samples with `le` (including +Inf), `_sum` and `_count`;
 * names are snake_case; no series appears twice. Answers one line per problem.
 */
export function lintExposition(text: string): string[] {
  const problems: string[] = [];
  const help = new Map<string, number>();
  const type = new Map<string, string>();
  const seen = new Set<string>();
  const familyOf = (name: string) => {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && ["histogram", "summary"].includes(type.get(base) ?? "")) return base;
    }
    return name;
  };
  const infBuckets = new Set<string>();
  for (const line of text.split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, what, name, rest = ""] = meta;
      if (what === "HELP") {
        help.set(name!, (help.get(name!) ?? 0) + 1);
        if (rest.trim() === "") problems.push(`${name}: empty HELP`);
      } else {
        if (type.has(name!)) problems.push(`${name}: second TYPE line`);
        type.set(name!, rest);
        if (rest === "counter" && !name!.endsWith("_total"))
          problems.push(`${name}: counter metrics should have "_total" suffix`);
        if (rest !== "counter" && name!.endsWith("_total"))
          problems.push(`${name}: non-counter metrics should not have "_total" suffix`);
        if (/[A-Z]/.test(name!)) problems.push(`${name}: metric names should be snake_case`);
      }
      continue;
    }
    if (line.trim() === "" || line.startsWith("#")) continue;
    const [s] = parseMetrics(line);
    if (!s) continue;
    const family = familyOf(s.name);
    if (!type.has(family)) problems.push(`${s.name}: sample before (or without) its TYPE`);
    if (!help.has(family)) problems.push(`${s.name}: no HELP`);
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (seen.has(key)) problems.push(`${s.name}: duplicate series ${key}`);
    seen.add(key);
    if (type.get(family) === "histogram" && s.name.endsWith("_bucket")) {
      if (s.labels.le === undefined) problems.push(`${s.name}: bucket without le`);
      if (s.labels.le === "+Inf") infBuckets.add(family);
    }
  }
  for (const [name, n] of help) if (n > 1) problems.push(`${name}: ${n} HELP lines`);
  for (const [name, t] of type) {
    if (!help.has(name)) problems.push(`${name}: no HELP`);
    const hasSamples = [...seen].some((k) => k.startsWith(`${name}_bucket`));
    if (t === "histogram" && hasSamples && !infBuckets.has(name)) problems.push(`${name}: no +Inf bucket`);
  }
  return [...new Set(problems)];
}
