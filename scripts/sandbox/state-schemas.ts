// What the sandbox's files hold (sandbox/state-file.ts reads and writes them): a snapshot of every
// PSP's records, and a journal of the changes made since, one JSON line each. Parsed at the edge, on
// start; never a card number in any of them (a charge keeps its BIN and last four digits only).
import { z } from "zod";
import { CardBrand } from "../../actors/payment/core/card.ts";
import { Region } from "../../actors/policy/core/schemas.ts";
import {
  CardVerdict,
  ChargeStatus,
  MovementKind,
  type AsyncRefund,
  type Charge,
  type Movement,
  type SimDispute,
  type WireReply,
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

export const BatchSchema = z.object({
  batch: z.number().int().positive(),
  reportId: z.string(),
  closedAt: z.string(),
  lines: z.number().int().nonnegative(),
  csv: z.string(),
  injected: z.array(
    z.object({ kind: z.enum(DiscrepancyKind), psp_reference: z.string(), line_id: z.string() }),
  ),
}) satisfies z.ZodType<ClosedBatch>;

const AsyncRefundSchema = z.object({
  id: z.string(),
  amount: z.number().int(),
  status: z.enum(["pending", "succeeded", "failed"]),
  at: z.string(),
}) satisfies z.ZodType<AsyncRefund>;

const DisputeSchema = z.object({
  id: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  reason: z.string(),
  status: z.enum(["open", "won", "lost"]),
  openedAt: z.string(),
  closedAt: z.string().optional(),
}) satisfies z.ZodType<SimDispute>;

export const ChargeSchema = z.object({
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
  // What happened after the call (sandbox/later.ts): kept too, so a restart does not forget a
  // pending refund, a dispute or how a challenge ended.
  autoCapture: z.boolean().optional(),
  returnUrl: z.string().optional(),
  challenge: z.enum(["approved", "failed"]).optional(),
  refunds: z.array(AsyncRefundSchema).optional(),
  disputes: z.array(DisputeSchema).optional(),
  disputeAfterCapture: z.boolean().optional(),
}) satisfies z.ZodType<Charge>;

export const ReplySchema = z.object({
  status: z.number().int(),
  body: z.unknown(),
}) satisfies z.ZodType<WireReply>;

const Generation = z.number().int().nonnegative();

/**
 * The snapshot: every PSP's records whole. `gen` names the journal that continues it; version 1 (the
 * former single file, rewritten on every change) has none and continues no journal.
 */
export const SnapshotSchema = z.object({
  v: z.union([z.literal(1), z.literal(2)]),
  gen: Generation.default(0),
  psps: z.record(
    z.string(),
    z.object({
      charges: z.array(ChargeSchema),
      replies: z.array(z.tuple([z.string(), ReplySchema])),
      batches: z.array(BatchSchema).default([]),
    }),
  ),
});

/** The journal's first line: which snapshot it continues. */
export const JournalHeader = z.object({ t: z.literal("journal"), v: z.literal(2), gen: Generation });

/** A journal line after the header: one change, as the PSP's record then was. */
export const JournalEntry = z.discriminatedUnion("t", [
  z.object({ t: z.literal("charge"), psp: z.string(), charge: ChargeSchema }),
  z.object({ t: z.literal("reply"), psp: z.string(), key: z.string(), reply: ReplySchema }),
  z.object({ t: z.literal("batch"), psp: z.string(), batch: BatchSchema, settled: z.array(z.string()) }),
]);
export type JournalEntry = z.infer<typeof JournalEntry>;
