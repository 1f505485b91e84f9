// The curl examples of the README and docs/*.md, read as a shell would (continuation lines, quotes,
// the `KEY="…"` assignments above them), and checked against the gateway's OpenAPI document: the
// operation exists, the headers it requires are sent (Idempotency-Key), a body is sent where one is
// required and goes with its Content-Type. So an example a newcomer pastes is not answered 400.

export type CurlExample = {
  file: string;
  line: number;
  text: string;
  method: string;
  /** The path on the gateway (localhost:8080), without the query. */
  path: string;
  /** Lowercased header names, after the variables of the document are put in. */
  headers: string[];
  body: boolean;
};

type Operation = {
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { required?: boolean };
};
export type OpenApi = { paths: Record<string, Record<string, Operation>> };

const GATEWAY = /^(?:https?:\/\/)?localhost:8080(\/[^?\s]*)?/;

/** Every curl to the gateway in a markdown document: in fenced blocks and in `inline code`. */
export function curlExamples(file: string, markdown: string): CurlExample[] {
  const lines = markdown.split("\n");
  const vars = new Map<string, string>();
  const out: CurlExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    for (const m of line.matchAll(/(?:^|;\s*)([A-Z][A-Z_]*)=("[^"]*"|'[^']*'|\S+)/g))
      vars.set(m[1]!, unquote(m[2]!));
    const inline = [...line.matchAll(/`(curl [^`]+)`/g)].map((m) => m[1]!);
    const starts = line.trimStart().startsWith("curl ") ? [line.trim()] : inline;
    for (let command of starts) {
      const at = i;
      while (command.endsWith("\\") && i + 1 < lines.length)
        command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
      const parsed = parseCurl(command, vars);
      if (parsed) out.push({ file, line: at + 1, text: command, ...parsed });
    }
  }
  return out;
}

function unquote(s: string): string {
  return (s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))
    ? s.slice(1, -1)
    : s;
}

/** Shell words: quotes joined, `$VAR` and `${VAR}` put in outside single quotes, a `#` word ends it. */
function words(command: string, vars: ReadonlyMap<string, string>): string[] {
  const expand = (s: string) =>
    s.replace(/\$\{?([A-Z][A-Z_]*)\}?/g, (whole, name: string) => vars.get(name) ?? whole);
  const out: string[] = [];
  let word: string | null = null;
  let i = 0;
  while (i < command.length) {
    const c = command[i]!;
    if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
      i++;
    } else if (c === "#" && word === null) {
      break;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      const to = end < 0 ? command.length : end;
      word = (word ?? "") + command.slice(i + 1, to);
      i = to + 1;
    } else if (c === '"') {
      let j = i + 1;
      let s = "";
      while (j < command.length && command[j] !== '"') {
        if (command[j] === "\\" && j + 1 < command.length) j++;
        s += command[j++];
      }
      word = (word ?? "") + expand(s);
      i = j + 1;
    } else {
      let j = i;
      while (j < command.length && !/[\s'"]/.test(command[j]!)) j++;
      word = (word ?? "") + expand(command.slice(i, j));
      i = j;
    }
  }
  if (word !== null) out.push(word);
  return out;
}

function parseCurl(
  command: string,
  vars: ReadonlyMap<string, string>,
): Omit<CurlExample, "file" | "line" | "text"> | undefined {
  const w = words(command, vars);
  let method: string | undefined;
  let url: string | undefined;
  const headers: string[] = [];
  let body = false;
  for (let i = 1; i < w.length; i++) {
    const a = w[i]!;
    if (a === "-X" || a === "--request") method = w[++i];
    else if (a === "-H" || a === "--header") headers.push((w[++i] ?? "").split(":")[0]!.trim().toLowerCase());
    else if (["-d", "--data", "--data-binary", "--data-raw", "--json"].includes(a)) {
      body = true;
      if (a === "--json") headers.push("content-type");
      i++;
    } else if (["-w", "-o", "-u", "--write-out", "--output"].includes(a)) i++;
    else if (!a.startsWith("-") && url === undefined) url = a;
  }
  const m = url && GATEWAY.exec(url);
  if (!m) return undefined;
  return { method: (method ?? (body ? "POST" : "GET")).toUpperCase(), path: m[1] ?? "/", headers, body };
}

/** The OpenAPI path an example's path falls under: the most literal segments win (`stuck` over `{id}`). */
export function operationPath(spec: OpenApi, path: string): string | undefined {
  const segments = path.split("/");
  let best: { template: string; literal: number } | undefined;
  for (const template of Object.keys(spec.paths)) {
    const t = template.split("/");
    if (t.length !== segments.length) continue;
    let literal = 0;
    const fits = t.every((s, i) => {
      if (/^\{.+\}$/.test(s)) return segments[i] !== "";
      if (s === segments[i]) return ++literal > 0;
      return false;
    });
    if (fits && (!best || literal > best.literal)) best = { template, literal };
  }
  return best?.template;
}

/** What is wrong with an example against the API it calls, in words (empty: nothing). */
export function problemsOf(spec: OpenApi, e: CurlExample): string[] {
  const template = operationPath(spec, e.path);
  const op = template !== undefined ? spec.paths[template]?.[e.method.toLowerCase()] : undefined;
  if (!op) return [`${e.method} ${e.path}: no such operation in /openapi.json`];
  const problems: string[] = [];
  for (const p of op.parameters ?? [])
    if (p.in === "header" && p.required && !e.headers.includes(p.name.toLowerCase()))
      problems.push(`${e.method} ${template} needs the ${p.name} header`);
  if (op.requestBody?.required && !e.body) problems.push(`${e.method} ${template} needs a body`);
  if (e.body && !e.headers.includes("content-type"))
    problems.push(`${e.method} ${template}: a body without its Content-Type header`);
  return problems;
}
