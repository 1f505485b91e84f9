// The subjects of the published contract (docs/nats.md, "Subjects"): each channel's address as the
// AsyncAPI document states it, its stream, its headers, who publishes and who subscribes. The lead
// fixed these for issue 20; streams/topology.ts builds the subjects. With a deployment prefix every
// subject gains `{prefix}.` in front and every stream `{prefix}_` (the AsyncAPI server variable).
export const ChannelId = {
  commands: "commands",
  replies: "replies",
  events: "events",
  merchantEvents: "merchant-events",
  deadLetters: "dead-letters",
  settlement: "settlement",
  reconciliation: "reconciliation",
  audit: "audit",
  pspNotifications: "psp-notifications",
} as const;
export type ChannelId = (typeof ChannelId)[keyof typeof ChannelId];

export const Role = {
  gateway: "gateway",
  internal: "internal-system",
  worker: "worker",
  projector: "projector",
  janitor: "janitor",
  settlement: "settlement",
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** A NATS header the contract names. */
export type HeaderSpec = { name: string; required: boolean; description: string };

export type ChannelSpec = {
  id: ChannelId;
  /** Without the deployment prefix; `{param}` per parameter. */
  address: string;
  /** JetStream stream (without prefix); null: core NATS, not stored. */
  stream: string | null;
  description: string;
  parameters: Record<string, string>;
  headers: readonly HeaderSpec[];
  publishers: readonly Role[];
  subscribers: readonly Role[];
};

const msgId = (what: string): HeaderSpec => ({
  name: "Nats-Msg-Id",
  required: true,
  description: `JetStream de-duplication within the stream's 2-minute window: ${what}.`,
});
const traceparent: HeaderSpec = {
  name: "traceparent",
  required: false,
  description: "W3C trace context of the request that caused the message.",
};

export const CHANNELS: readonly ChannelSpec[] = [
  {
    id: "commands",
    address: "pay.cmd.{partition}.{merchantId}.{paymentId}",
    stream: "PAY_CMD",
    description:
      "Commands for one payment. Work-queue retention: a command leaves the stream once the worker owning its partition acknowledges it.",
    parameters: {
      partition:
        "fnv1a32(paymentId) % partitions (streams/topology.ts partitionOf): the worker's unit of ownership.",
      merchantId:
        "The merchant the payment belongs to (internal systems may publish only for their merchants).",
      paymentId: "The payment id ([A-Za-z0-9_-]{1,64}).",
    },
    headers: [
      msgId("the command's id (a repeat within the window is stored once)"),
      {
        name: "Sy-Reply-To",
        required: false,
        description:
          "Where the actor's reply (command-reply) goes, on core NATS; must be under pay.reply. Internal systems use pay.reply.{merchantId}.{inbox}.{token}.",
      },
      traceparent,
    ],
    publishers: ["gateway", "internal-system", "janitor", "settlement"],
    subscribers: ["worker"],
  },
  {
    id: "replies",
    address: "pay.reply.{merchantId}.{inbox}.{token}",
    stream: null,
    description:
      "The actor's reply to a command that named this subject in Sy-Reply-To (core NATS: lost if nobody listens).",
    parameters: {
      merchantId: "The merchant of the internal system waiting.",
      inbox: "The waiting process's inbox.",
      token: "One request's token.",
    },
    headers: [],
    publishers: ["worker"],
    subscribers: ["gateway", "internal-system", "janitor"],
  },
  {
    id: "events",
    address: "pay.evt.{paymentId}",
    stream: "PAY_EVT",
    description:
      "A payment's history: one frame per command handled, appended with Nats-Expected-Last-Subject-Sequence (the fence). Limits retention: the system of record.",
    parameters: { paymentId: "The payment id." },
    headers: [
      msgId("{paymentId}:{firstEventNo}, so a publish whose ack was lost is retried unchanged"),
      {
        name: "Nats-Expected-Last-Subject-Sequence",
        required: true,
        description:
          "The fence: the stream sequence of the payment's last frame as the writer read it (0: none).",
      },
      traceparent,
    ],
    publishers: ["worker"],
    subscribers: ["projector", "janitor"],
  },
  {
    id: "merchant-events",
    address: "pay.out.{merchantId}.{paymentId}",
    stream: "PAY_OUT",
    description:
      "Merchant-facing events (the webhook payloads), for internal systems subscribed to their merchants.",
    parameters: { merchantId: "The merchant the event is for.", paymentId: "The payment it is about." },
    headers: [msgId("the merchant event's id")],
    publishers: ["projector"],
    subscribers: ["internal-system"],
  },
  {
    id: "dead-letters",
    address: "pay.dlq.{streamSeq}",
    stream: "PAY_DLQ",
    description:
      "Commands that could not be handled, kept for operators (listed and redriven over /ops/dead-letters).",
    parameters: { streamSeq: "The command's sequence in PAY_CMD." },
    headers: [msgId("dlq:{subject}:{streamSeq}")],
    publishers: ["worker"],
    subscribers: ["gateway"],
  },
  {
    id: "settlement",
    address: "settle.report.{psp}.{reportId}",
    stream: "SETTLE",
    description:
      "An ingested settlement report: its chunks of reconciled lines in order, then the closing record.",
    parameters: {
      psp: "The PSP (a subject token: itself when safe, else h + a digest).",
      reportId: "The PSP's report id (a subject token as above).",
    },
    headers: [msgId("{psp}:{reportId}:{chunkNo} for a chunk")],
    publishers: ["gateway", "projector"],
    subscribers: ["projector", "settlement"],
  },
  {
    id: "reconciliation",
    address: "recon.{kind}.{exceptionId}",
    stream: "RECON",
    description: "Operators' resolutions and the missing-line sweep's exceptions.",
    parameters: { kind: "resolution or missing.", exceptionId: "The exception id (a subject token)." },
    headers: [],
    publishers: ["gateway", "projector"],
    subscribers: ["projector"],
  },
  {
    id: "audit",
    address: "audit.{action}",
    stream: "AUDIT",
    description: "Every operator action, append-only.",
    parameters: { action: "The dotted action (policy.activate, psp.out…): one subject token per part." },
    headers: [],
    publishers: ["gateway"],
    subscribers: ["gateway"],
  },
  {
    id: "psp-notifications",
    address: "psp.ntf.unmatched.{psp}.{notificationId}",
    stream: "PSP_NTF",
    description: "PSP notifications the platform could not place on a payment, kept for reconciliation.",
    parameters: {
      psp: "The PSP (a subject token).",
      notificationId: "The PSP's notification id (a subject token).",
    },
    headers: [msgId("unmatched:{psp}:{notificationId}")],
    publishers: ["gateway"],
    subscribers: ["gateway"],
  },
];
