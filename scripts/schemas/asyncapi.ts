// The AsyncAPI 3.0.0 document of the platform's NATS contract, built from the registry and the
// channel table (gateway/contract/): servers, channels with their parameters, one operation per role
// and direction, every registered message with its headers and its payload schema inlined under
// components.schemas (the same JSON Schema as schemas/{name}/{version}.json, without $schema/$id).
import { CHANNELS, type ChannelSpec, type Role } from "../../gateway/contract/channels.ts";
import { REGISTRY, type RegisteredMessage } from "../../gateway/contract/registry.ts";

export type JsonSchema = Record<string, unknown>;

const key = (name: string, version: number): string => `${name}-v${version}`;

function camel(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split("-"))
    .map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join("");
}

function headersSchema(c: ChannelSpec): JsonSchema | undefined {
  if (c.headers.length === 0) return undefined;
  return {
    type: "object",
    properties: Object.fromEntries(
      c.headers.map((h) => [h.name, { type: "string", description: h.description }]),
    ),
    required: c.headers.filter((h) => h.required).map((h) => h.name),
  };
}

const PREFIX_NOTE =
  "A deployment prefix (SWITCHYARD's topology prefix), when set, goes in front of every subject " +
  "(`{prefix}.pay.cmd…`) and every stream name (`{prefix}_PAY_CMD`); the addresses here are without it.";

/** `schemas`: path → JSON Schema of every registered version (generate.ts). */
export function asyncApiDocument(
  schemas: ReadonlyMap<string, JsonSchema>,
  registry: readonly RegisteredMessage[] = REGISTRY,
): JsonSchema {
  const componentSchemas: Record<string, JsonSchema> = {};
  const messages: Record<string, JsonSchema> = {};
  for (const m of registry) {
    const channel = CHANNELS.find((c) => c.id === m.channel);
    for (const v of m.versions) {
      const schema = schemas.get(`schemas/${m.name}/${v.version}.json`);
      if (!schema) throw new Error(`no schema for ${m.name} v${v.version}`);
      const { $schema: _s, $id, ...payload } = schema;
      componentSchemas[key(m.name, v.version)] = payload;
      const headers = channel ? headersSchema(channel) : undefined;
      messages[key(m.name, v.version)] = {
        name: m.name,
        title: `${m.title} v${v.version}`,
        summary: m.description,
        contentType: "application/json",
        ...(headers ? { headers } : {}),
        payload: { $ref: `#/components/schemas/${key(m.name, v.version)}` },
        description: `JSON Schema: GET /schemas/${m.name}/${v.version}.json on the gateway ($id ${String($id)}).`,
      };
    }
  }
  const channels: Record<string, JsonSchema> = {};
  const operations: Record<string, JsonSchema> = {};
  for (const c of CHANNELS) {
    const onIt = registry
      .filter((m) => m.channel === c.id)
      .flatMap((m) => m.versions.map((v) => key(m.name, v.version)));
    channels[c.id] = {
      address: c.address,
      title: c.id,
      description: c.stream ? `${c.description} Stream ${c.stream}.` : `${c.description} Core NATS.`,
      messages: Object.fromEntries(onIt.map((k) => [k, { $ref: `#/components/messages/${k}` }])),
      parameters: Object.fromEntries(Object.entries(c.parameters).map(([p, d]) => [p, { description: d }])),
    };
    const ops = (action: "send" | "receive", roles: readonly Role[]) => {
      for (const role of roles)
        operations[camel(role, action, c.id)] = {
          action,
          channel: { $ref: `#/channels/${c.id}` },
          title: `${role} ${action === "send" ? "publishes" : "reads"} ${c.id}`,
          tags: [{ name: role }],
          messages: onIt.map((k) => ({ $ref: `#/channels/${c.id}/messages/${k}` })),
          ...(action === "send" && c.id === "commands"
            ? {
                reply: {
                  address: {
                    location: "$message.header#/Sy-Reply-To",
                    description: "The subject the command's Sy-Reply-To header names (under pay.reply.).",
                  },
                  channel: { $ref: "#/channels/replies" },
                },
              }
            : {}),
          // No NATS binding: its one field is a core-NATS queue group, and our readers are JetStream
          // consumers (durable pull consumers; the work queue's per partition).
          ...(action === "receive" && c.stream
            ? {
                description: `A JetStream consumer on stream ${c.stream} (with the deployment prefix: {prefix}_${c.stream}).`,
              }
            : {}),
        };
    };
    ops("send", c.publishers);
    ops("receive", c.subscribers);
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Switchyard NATS contract",
      version: "1.0.0",
      description:
        "The subjects, streams and messages of Switchyard's NATS JetStream, for internal systems that publish commands and read replies and merchant events (docs/nats.md). " +
        PREFIX_NOTE,
    },
    defaultContentType: "application/json",
    servers: {
      nats: {
        host: "{host}",
        protocol: "nats",
        description: `The platform's NATS server (JetStream enabled). ${PREFIX_NOTE}`,
        variables: { host: { default: "127.0.0.1:4222", description: "host:port of a NATS server" } },
      },
    },
    channels,
    operations,
    components: { schemas: componentSchemas, messages },
  };
}
