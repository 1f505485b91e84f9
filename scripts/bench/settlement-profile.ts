// A CPU profile of one part of the settlement bench (the product's ingest), taken in-process with
// node:inspector so the seeding, the projection and the bare parse stay out of it, and summarised
// by self time: per function and per module (our files by path, libraries by package).
import { writeFileSync } from "node:fs";
import { Session, type Profiler } from "node:inspector";

export type Hot = { name: string; ms: number; share: number };
export type ProfileSummary = { totalMs: number; functions: Hot[]; modules: Hot[]; file: string };

const post = <T>(s: Session, method: string, params?: object) =>
  new Promise<T>((resolve, reject) =>
    s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))),
  );

/** Run `f` under the profiler; the raw profile is written to `file` (open it in Chrome DevTools). */
export async function profiled<T>(file: string, f: () => Promise<T>): Promise<[T, ProfileSummary]> {
  const s = new Session();
  s.connect();
  try {
    await post(s, "Profiler.enable");
    await post(s, "Profiler.setSamplingInterval", { interval: 500 });
    await post(s, "Profiler.start");
    const result = await f();
    const { profile } = await post<{ profile: Profiler.Profile }>(s, "Profiler.stop");
    writeFileSync(file, JSON.stringify(profile));
    return [result, summarise(profile, file)];
  } finally {
    s.disconnect();
  }
}

function moduleOf(url: string): string {
  if (url === "") return "(V8 / native)";
  if (url.startsWith("node:")) return url;
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const at = url.search(/\/(actors|streams|scripts|config|gateway)\//);
  return at >= 0 ? url.slice(at + 1) : url;
}

export function summarise(p: Profiler.Profile, file: string, top = 15): ProfileSummary {
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++)
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0) / 1000);
  const byFn = new Map<string, number>();
  const byModule = new Map<string, number>();
  let totalMs = 0;
  for (const node of p.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    totalMs += ms;
    const cf = node.callFrame;
    // (idle) is the process waiting on PostgreSQL and NATS: time, not CPU.
    const mod = cf.functionName.startsWith("(") && cf.url === "" ? cf.functionName : moduleOf(cf.url);
    const fn = `${cf.functionName || "(anonymous)"} ${mod}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + ms);
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>): Hot[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: totalMs > 0 ? ms / totalMs : 0 }));
  return { totalMs, functions: rank(byFn), modules: rank(byModule), file };
}
