// nats-server's own authorization for a Switchyard deployment (docs/nats-permissions.md): who may
// publish and subscribe to what, written as an `authorization { users: [...] }` block for a given
// prefix, from the names in streams/topology.ts and the stores' bucket names, so it cannot drift
// from them. Three platform users (gateway, worker, projector), and one user per internal system
// with the merchants it acts for: it may send commands for those merchants, hear their replies, and
// read their events from PAY_OUT; nothing else (no PAY_EVT, no KV bucket, no other merchant).
//
//   node scripts/nats-auth.ts [--prefix P] [--internal NAME=m_a,m_b]... > nats-auth.conf
//
// Passwords are not in the file: each user's is `$SWITCHYARD_NATS_PASSWORD_<USER>`, a variable
// nats-server reads from its environment (or bcrypt hashes, given with passwords in code).
import { pathToFileURL } from "node:url";
import { janitorBucketName } from "../actors/janitor.ts";
import { membersBucketName, leasesBucketName } from "../streams/cluster-records.ts";
import { merchantBucketName } from "../streams/merchant-keys.ts";
import { opsBucketName } from "../streams/ops-board.ts";
import { policyBucketName } from "../streams/policy-store.ts";
import { processedBucketName } from "../streams/processed-notifications.ts";
import { streamNames, stripeBucketNames, topology, type Topology } from "../streams/topology.ts";

export const PLATFORM_ROLES = ["gateway", "worker", "projector"] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];

/** An internal system: its NATS user and the merchants it may act for. */
export type InternalSystem = { user: string; merchants: readonly string[] };

export type Permissions = {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
};

/** A user name or merchant id: one subject token, nothing a wildcard or the conf could misread. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** The inbox prefix an internal system's client must set (nats.js `inboxPrefix`): its replies only. */
export function internalInboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/** Every KV bucket of a deployment (each is the stream `KV_<bucket>` and subjects `$KV.<bucket>.>`). */
export function bucketsOf(prefix: string): string[] {
  return [
    policyBucketName(prefix),
    merchantBucketName(prefix),
    opsBucketName(prefix),
    processedBucketName(prefix),
    membersBucketName(prefix),
    leasesBucketName(prefix),
    janitorBucketName(prefix),
    // The Stripe layer's (gateway/stripe/stores.ts): its idempotency answers and unconfirmed intents.
    ...Object.values(stripeBucketNames(prefix)),
  ];
}

/** Every stream of a deployment, the buckets' included. */
export function streamsOf(t: Topology): string[] {
  return [...streamNames(t), ...bucketsOf(t.prefix).map((b) => `KV_${b}`)];
}

/**
 * The JetStream API on the deployment's own streams only: create and update (each role ensures the
 * topology and its buckets at start: ensureTopology, openBucket), info, message gets (direct and
 * not), message deletes (dead letters redriven), consumers (durable and ordered: create, info,
 * delete, pull), acks and flow control. No stream delete or purge, no other stream.
 */
function jetStreamApi(t: Topology): string[] {
  const api = ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST"];
  for (const s of streamsOf(t))
    api.push(
      `$JS.API.STREAM.CREATE.${s}`,
      `$JS.API.STREAM.UPDATE.${s}`,
      `$JS.API.STREAM.INFO.${s}`,
      `$JS.API.STREAM.MSG.GET.${s}`,
      `$JS.API.STREAM.MSG.DELETE.${s}`,
      `$JS.API.DIRECT.GET.${s}`,
      `$JS.API.DIRECT.GET.${s}.>`,
      `$JS.API.CONSUMER.CREATE.${s}`,
      `$JS.API.CONSUMER.CREATE.${s}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${s}.*`,
      `$JS.API.CONSUMER.INFO.${s}.*`,
      `$JS.API.CONSUMER.DELETE.${s}.*`,
      `$JS.API.CONSUMER.MSG.NEXT.${s}.*`,
      `$JS.API.CONSUMER.NAMES.${s}`,
      `$JS.API.CONSUMER.LIST.${s}`,
      `$JS.ACK.${s}.>`,
      `$JS.FC.${s}.>`,
    );
  return api;
}

/**
 * A platform role: the JetStream API on the deployment's streams, its buckets' subjects, and the
 * data subjects it writes. Only the worker appends payment events (PAY_EVT: the record) and answers
 * commands (pay.reply); only the projector publishes the merchant events feed (PAY_OUT). Commands,
 * dead letters, settlement, reconciliation, audit and kept notifications: any role (the gateway
 * sends commands, redrives dead letters and takes operators' uploads and actions, the projector's
 * challenge expiry sends commands, the worker dead-letters poison commands).
 */
export function platformPermissions(t: Topology, role: PlatformRole): Permissions {
  const kv = bucketsOf(t.prefix).map((b) => `$KV.${b}.>`);
  const data = [
    `${t.commandBase}.>`,
    `${t.deadLetterBase}.>`,
    `${t.settleBase}.>`,
    `${t.reconBase}.>`,
    `${t.auditBase}.>`,
    `${t.notificationBase}.>`,
  ];
  if (role === "worker") data.push(`${t.eventBase}.>`, `${t.replyBase}.>`);
  if (role === "projector") data.push(`${t.merchantEventBase}.>`);
  return {
    publish: { allow: [...data, ...kv, ...jetStreamApi(t)] },
    // Its inboxes (JetStream API replies, pulled messages, KV watches), command replies (gateway,
    // projector), the cluster members bucket watched as core subjects (workers, the gateway's view).
    subscribe: { allow: ["_INBOX.>", `${t.replyBase}.>`, ...kv] },
  };
}

/**
 * An internal system: commands for its merchants only (`<base>.pay.cmd.<partition>.<merchantId>.
 * <paymentId>`; the worker checks the body's merchant against that token), their replies, and its
 * merchants' events on PAY_OUT through push consumers whose filter is in the create subject
 * (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`: the server refuses a body whose filter
 * differs), delivered to its own inbox prefix, which no other user may read; it answers their flow
 * control (`$JS.FC.<stream>.>`). No `CONSUMER.MSG.NEXT` (whoever names a pull consumer gets its
 * messages: another system's, had it guessed the name), no `STREAM.INFO` (its `subjects_filter`
 * lists every merchant's payment ids), no `CONSUMER.INFO` (another system's consumer, by name).
 */
export function internalPermissions(t: Topology, system: InternalSystem): Permissions {
  const out = t.merchantEventStream;
  const pub = [`$JS.FC.${out}.>`];
  const sub = [`${internalInboxPrefix(system.user)}.>`];
  for (const m of system.merchants) {
    pub.push(`${t.commandBase}.*.${m}.*`, `$JS.API.CONSUMER.CREATE.${out}.*.${t.merchantEventBase}.${m}.>`);
    sub.push(`${t.replyBase}.${m}.>`);
  }
  return { publish: { allow: pub }, subscribe: { allow: sub } };
}

export type AuthOptions = {
  prefix: string;
  internal?: readonly InternalSystem[];
  /**
   * Passwords (plain or bcrypt) by user, for tests; a user without one gets the server-side variable
   * `$SWITCHYARD_NATS_PASSWORD_<USER>`.
   */
  passwords?: Readonly<Record<string, string>>;
};

/** The password variable nats-server reads from its environment for `user`. */
export function passwordVariable(user: string): string {
  return `SWITCHYARD_NATS_PASSWORD_${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** The `authorization { users: [...] }` block; throws on a user or merchant that is not a token. */
export function authorizationConf(o: AuthOptions): string {
  const t = topology(o.prefix, 1);
  const internal = o.internal ?? [];
  const names = [...PLATFORM_ROLES, ...internal.map((s) => s.user)];
  for (const n of [...names, ...internal.flatMap((s) => s.merchants)])
    if (!TOKEN.test(n))
      throw new Error(`not a NATS user name or merchant id (1-64 of [A-Za-z0-9_-]): ${JSON.stringify(n)}`);
  if (new Set(names).size !== names.length) throw new Error("a user name appears twice");
  for (const s of internal)
    if (s.merchants.length === 0) throw new Error(`internal system ${s.user}: no merchant`);
  const user = (name: string, p: Permissions) => {
    const pw = o.passwords?.[name];
    const password = pw === undefined ? `$${passwordVariable(name)}` : JSON.stringify(pw);
    const list = (xs: string[]) => xs.map((x) => `          ${JSON.stringify(x)}`).join("\n");
    return [
      `    {`,
      `      user: ${JSON.stringify(name)}, password: ${password}`,
      `      permissions: {`,
      `        publish: { allow: [\n${list(p.publish.allow)}\n        ] }`,
      `        subscribe: { allow: [\n${list(p.subscribe.allow)}\n        ] }`,
      `      }`,
      `    }`,
    ].join("\n");
  };
  return [
    `# Generated by scripts/nats-auth.ts for prefix ${JSON.stringify(o.prefix)}: see docs/nats-permissions.md.`,
    `authorization {`,
    `  users: [`,
    ...PLATFORM_ROLES.map((r) => user(r, platformPermissions(t, r))),
    ...internal.map((s) => user(s.user, internalPermissions(t, s))),
    `  ]`,
    `}`,
    ``,
  ].join("\n");
}

/** `--prefix P --internal billing=m_a,m_b ...` */
export function parseArgs(argv: readonly string[]): AuthOptions {
  let prefix = "";
  const internal: InternalSystem[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--prefix" && v !== undefined) prefix = v;
    else if (a === "--internal" && v !== undefined) {
      const [u, ms] = v.split("=");
      internal.push({ user: u ?? "", merchants: (ms ?? "").split(",").filter((m) => m !== "") });
    } else throw new Error(`usage: nats-auth.ts [--prefix P] [--internal NAME=m_a,m_b]...  (at ${a})`);
    i++;
  }
  if (prefix !== "" && !/^[A-Za-z0-9_-]{1,32}$/.test(prefix))
    throw new Error(`--prefix: not a token: ${prefix}`);
  return { prefix, internal };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    process.stdout.write(authorizationConf(parseArgs(process.argv.slice(2))));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}
