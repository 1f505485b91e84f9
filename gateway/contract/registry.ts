// The schema registry: every message on every subject the platform owns (and the ledger export's
// lines), each under a stable name with integer versions, mapped to the zod schema the code writes
// and reads it with. `npm run schemas` turns it into schemas/{name}/{version}.json, schemas/index.json
// and schemas/asyncapi.json; `npm run schemas:check` holds those files to it (docs/nats.md).
// A version, once committed, never changes: a change to its schema is a new version. `read` is the
// parse the code reads the message with today: every fixture of every version must pass it.
// Lives in gateway/ because it reads the payment's core and the stores' schemas alike (streams/ may
// not import actors/); it imports schemas only, so any layer above may read it.
import { z } from "zod";
import { PaymentEvent } from "../../actors/payment/core/events.ts";
import {
  CommandEnvelope,
  CommandEnvelopeV1,
  CommandReply,
  PaymentEvents,
} from "../../actors/payment/core/wire.ts";
import { ExportJsonlLine } from "../../actors/ledger/core/export.ts";
import { ReconRecord, SettleRecord } from "../../actors/settlement/records.ts";
import { MerchantEvent } from "../../actors/webhooks/core/catalog.ts";
import { AuditRecord } from "../../streams/audit-log.ts";
import { DeadLetter } from "../../streams/dead-letters.ts";
import { EventFrame, EventFrameV1, EventFrameV2 } from "../../streams/envelopes.ts";
import { UnmatchedNotification } from "../../streams/unmatched-notifications.ts";
import type { ChannelId } from "./channels.ts";

/** A registered version: its schema, or `frozen` when only its committed file is left (docs/nats.md). */
export type MessageVersion = { version: number; schema: z.ZodType } | { version: number; frozen: true };

export type RegisteredMessage = {
  /** Stable, lowercase kebab: the folder under schemas/ and the path under GET /schemas. */
  name: string;
  title: string;
  description: string;
  /** Where it travels (channels.ts); null: not a NATS message (the ledger export's lines). */
  channel: ChannelId | null;
  versions: readonly MessageVersion[];
  /** The parse the code reads this message with today (throws on what it would refuse). */
  read: (json: unknown) => unknown;
};

/** A frame as the followers read it: the frame, then its events, each with the schema that guards them. */
function readFrame(json: unknown): unknown {
  const frame = EventFrame.parse(json);
  return { ...frame, events: PaymentEvents.parse(frame.events) };
}

const readEvent = (json: unknown): unknown => PaymentEvent.parse(json);

/**
 * A frame's events as its schema states them: each one a registered payment event, by `type`. Not
 * the union itself, so that a new event type is a new message here, not a new version of the frame.
 */
const FrameEvents = z
  .array(
    z
      .looseObject({
        type: z.string().describe("The event's type: a payment event registered under its name."),
      })
      .describe("A payment event (schemas/{kebab-case type}/{version}.json)."),
  )
  .min(1);

/** One entry per payment event type: its name is the type in kebab case (PaymentCreated → payment-created). */
function eventEntries(): RegisteredMessage[] {
  return PaymentEvent.options.map((schema) => {
    const type = schema.shape.type.value;
    return {
      name: kebab(type),
      title: type,
      description: `The payment event ${type}: one of the events of a PAY_EVT frame (event-frame).`,
      channel: null,
      versions: [{ version: 1, schema }],
      read: readEvent,
    };
  });
}

export function kebab(type: string): string {
  return type.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "-") + c.toLowerCase());
}

/** Every registered message, in a fixed order (the generated files follow it). */
export const REGISTRY: readonly RegisteredMessage[] = [
  {
    name: "command-envelope",
    title: "Command envelope",
    description:
      "A command for one payment on PAY_CMD: the command (CreatePayment, CapturePayment…) and, for CreatePayment, the sealed card.",
    channel: "commands",
    versions: [{ version: 1, schema: CommandEnvelopeV1 }],
    read: (json) => CommandEnvelope.parse(json),
  },
  {
    name: "command-reply",
    title: "Command reply",
    description:
      "What the payment's actor answers on the command's Sy-Reply-To subject: settled, pending (ask again later) or rejected.",
    channel: "replies",
    versions: [{ version: 1, schema: CommandReply }],
    read: (json) => CommandReply.parse(json),
  },
  {
    name: "event-frame",
    title: "Event frame",
    description:
      "All events decided for one command, in one PAY_EVT message. v1: frames written before the history was chained (read, never written); v2: chained by `prev`, the SHA-256 of the previous frame's stored bytes.",
    channel: "events",
    versions: [
      { version: 1, schema: EventFrameV1.extend({ events: FrameEvents }) },
      { version: 2, schema: EventFrameV2.extend({ events: FrameEvents }) },
    ],
    read: readFrame,
  },
  ...eventEntries(),
  {
    name: "merchant-event",
    title: "Merchant event",
    description:
      "A merchant-facing event: the webhook body, GET /v1/events, and each message of PAY_OUT (Nats-Msg-Id: the event id).",
    channel: "merchant-events",
    versions: [{ version: 1, schema: MerchantEvent }],
    read: (json) => MerchantEvent.parse(json),
  },
  {
    name: "dead-letter",
    title: "Dead letter",
    description:
      "A command that could not be handled (PAY_DLQ): the original message base64, why, the delivery count and when.",
    channel: "dead-letters",
    versions: [{ version: 1, schema: DeadLetter }],
    read: (json) => DeadLetter.parse(json),
  },
  {
    name: "settlement-record",
    title: "Settlement record",
    description:
      "SETTLE: a chunk of an ingested settlement report's reconciled lines, or the record closing the report.",
    channel: "settlement",
    versions: [{ version: 1, schema: SettleRecord }],
    read: (json) => SettleRecord.parse(json),
  },
  {
    name: "reconciliation-record",
    title: "Reconciliation record",
    description:
      "RECON: an operator's resolution of an exception, or an exception the missing-line sweep opened.",
    channel: "reconciliation",
    versions: [{ version: 1, schema: ReconRecord }],
    read: (json) => ReconRecord.parse(json),
  },
  {
    name: "audit-record",
    title: "Audit record",
    description: "AUDIT: one operator action — who, what, when, on what, why.",
    channel: "audit",
    versions: [{ version: 1, schema: AuditRecord }],
    read: (json) => AuditRecord.parse(json),
  },
  {
    name: "psp-notification",
    title: "Unmatched PSP notification",
    description:
      "PSP_NTF: a verified, normalized PSP notification the platform could not place on a payment, kept for reconciliation.",
    channel: "psp-notifications",
    versions: [{ version: 1, schema: UnmatchedNotification }],
    read: (json) => UnmatchedNotification.parse(json),
  },
  {
    name: "ledger-export-line",
    title: "Ledger export line (jsonl)",
    description:
      "One line of a jsonl ledger export (GET /ops/ledger/export, npm run ledger:export): the header, a journal entry, or the trailer.",
    channel: null,
    versions: [{ version: 1, schema: ExportJsonlLine }],
    read: (json) => ExportJsonlLine.parse(json),
  },
];

/** The message registered under `name`, or undefined. */
export function registered(name: string): RegisteredMessage | undefined {
  return REGISTRY.find((m) => m.name === name);
}
