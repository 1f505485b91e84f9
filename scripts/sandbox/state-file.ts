// The sandbox's records on disk, so that a restarted sandbox still knows the charges it made (a real
// PSP never forgets one: capturing or refunding yesterday's authorization must work after `npm
// start` again). One JSON file, rewritten whole after each change: written to a temporary file and
// renamed, so a crash leaves the old file or the new one, never half of one. Writes are coalesced
// (one in flight, one more if something changed meanwhile); a SIGKILL can lose the last moments.
import { mkdirSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { CardBrand } from "../../actors/payment/card.ts";
import { Region } from "../../actors/policy/schemas.ts";
import {
  CardVerdict,
  ChargeStatus,
  MovementKind,
  type Charge,
  type Movement,
  type PspRecord,
} from "./simulator.ts";
import { DiscrepancyKind, type ClosedBatch } from "./settlement-rows.ts";

const MovementSchema = z.object({
  kind: z.enum(MovementKind),
  reference: z.string(),
  lineId: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  at: z.string(),
  batch: z.number().int().positive().optional(),
}) satisfies z.ZodType<Movement>;

const BatchSchema = z.object({
  batch: z.number().int().positive(),
  reportId: z.string(),
  closedAt: z.string(),
  lines: z.number().int().nonnegative(),
  csv: z.string(),
  injected: z.array(
    z.object({ kind: z.enum(DiscrepancyKind), psp_reference: z.string(), line_id: z.string() }),
  ),
}) satisfies z.ZodType<ClosedBatch>;

const ChargeSchema = z.object({
  psp: z.string(),
  id: z.string(),
  idempotencyKey: z.string(),
  reference: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(ChargeStatus),
  capturedAmount: z.number().int(),
  refundedAmount: z.number().int(),
  createdAt: z.string(),
  last4: z.string().regex(/^\d{4}$/),
  // Files written before settlement knew no card facts nor movements: such charges settle nothing.
  bin: z
    .string()
    .regex(/^\d{0,6}$/)
    .default(""),
  brand: z.enum(CardBrand).default("unknown"),
  region: Region.default("international"),
  verdict: z.enum(CardVerdict),
  movements: z.array(MovementSchema).default([]),
  traceparent: z.string().optional(),
  actionUrl: z.string().optional(),
}) satisfies z.ZodType<Charge>;

const StateSchema = z.object({
  v: z.literal(1),
  psps: z.record(
    z.string(),
    z.object({
      charges: z.array(ChargeSchema),
      replies: z.array(z.tuple([z.string(), z.object({ status: z.number().int(), body: z.unknown() })])),
      batches: z.array(BatchSchema).default([]),
    }),
  ),
});

export class SandboxStateError extends Error {
  override name = "SandboxStateError";
}

/** The records in `path`, or none when the file does not exist yet. */
export function readState(path: string): Map<string, PspRecord> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SandboxStateError(`${path} is not JSON; move it away to start the sandbox empty`);
  }
  const parsed = StateSchema.safeParse(json);
  if (!parsed.success)
    throw new SandboxStateError(
      `${path} is not a sandbox state file (${parsed.error.issues[0]?.message ?? "invalid"}); move it away to start the sandbox empty`,
    );
  return new Map(
    Object.entries(parsed.data.psps).map(([name, r]) => [
      name,
      { charges: r.charges, replies: r.replies, batches: r.batches },
    ]),
  );
}

export type StateWriter = {
  /** Something changed: write soon. */
  changed(): void;
  /** Write what is there now and wait for it (on close). */
  flush(): Promise<void>;
};

export function stateWriter(
  path: string,
  collect: () => Map<string, PspRecord>,
  onError: (err: unknown) => void,
): StateWriter {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp`;
  let dirty = false;
  let writing: Promise<void> | undefined;

  async function writeWhileDirty(): Promise<void> {
    while (dirty) {
      dirty = false;
      const state = { v: 1, psps: Object.fromEntries(collect()) };
      await writeFile(temporary, JSON.stringify(state), { mode: 0o600 });
      await rename(temporary, path);
    }
  }

  function start(): Promise<void> {
    writing ??= writeWhileDirty()
      .catch(onError)
      .finally(() => {
        writing = undefined;
        if (dirty) void start(); // changed while this write was finishing
      });
    return writing;
  }

  return {
    changed() {
      dirty = true;
      void start();
    },
    async flush() {
      dirty = true;
      await start(); // an in-flight write sees `dirty` and writes once more
    },
  };
}
