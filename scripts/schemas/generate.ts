// What `npm run schemas` writes, computed in memory: schemas/{name}/{version}.json (JSON Schema
// draft 2020-12 from zod 4's z.toJSONSchema), schemas/index.json and schemas/asyncapi.json. Pure
// apart from formatting: the same registry gives the same bytes, so the check can compare them.
import prettier from "prettier";
import { z } from "zod";
import { REGISTRY, type RegisteredMessage } from "../../gateway/contract/registry.ts";

type Registry = readonly RegisteredMessage[];
import { asyncApiDocument, type JsonSchema } from "./asyncapi.ts";

export type { JsonSchema };

export const schemaId = (name: string, version: number): string => `urn:switchyard:schema:${name}:${version}`;
export const schemaPath = (name: string, version: number): string => `schemas/${name}/${version}.json`;

/** One version's JSON Schema: what a reader accepts (zod's input side: unknown fields are allowed). */
export function jsonSchemaOf(m: RegisteredMessage, version: number, schema: z.ZodType): JsonSchema {
  const body = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input", unrepresentable: "throw" });
  const { $schema, ...rest } = body as JsonSchema;
  return {
    $schema,
    $id: schemaId(m.name, version),
    title: `${m.title} v${version}`,
    description: m.description,
    ...rest,
  };
}

/** The JSON Schema of every version that still has its zod schema (a frozen one has only its file). */
export function liveSchemas(registry: Registry = REGISTRY): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const m of registry)
    for (const v of m.versions)
      if ("schema" in v) out.set(schemaPath(m.name, v.version), jsonSchemaOf(m, v.version, v.schema));
  return out;
}

export function indexDocument(registry: Registry = REGISTRY): JsonSchema {
  return {
    description:
      "The Switchyard schema registry: every message on the platform's NATS subjects, by name and version (docs/nats.md).",
    messages: registry.map((m) => ({
      name: m.name,
      title: m.title,
      description: m.description,
      channel: m.channel,
      latest: Math.max(...m.versions.map((v) => v.version)),
      versions: m.versions.map((v) => ({
        version: v.version,
        id: schemaId(m.name, v.version),
        path: `/${schemaPath(m.name, v.version)}`,
      })),
    })),
  };
}

/**
 * Every generated file, path → text as Prettier writes JSON (so `npm run format:check` agrees). A
 * frozen version's schema is read from its committed file (`committed`) for the AsyncAPI document.
 */
export async function generatedFiles(
  committed: (path: string) => string | undefined,
  registry: Registry = REGISTRY,
): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const schemas = liveSchemas(registry);
  for (const [path, schema] of schemas) files.set(path, await text(path, schema));
  const all = new Map(schemas);
  for (const m of registry)
    for (const v of m.versions) {
      const path = schemaPath(m.name, v.version);
      if (all.has(path)) continue;
      const kept = committed(path);
      if (kept === undefined) throw new Error(`${path}: frozen in the registry but not committed`);
      all.set(path, JSON.parse(kept) as JsonSchema);
    }
  files.set("schemas/index.json", await text("schemas/index.json", indexDocument(registry)));
  files.set("schemas/asyncapi.json", await text("schemas/asyncapi.json", asyncApiDocument(all, registry)));
  return files;
}

async function text(path: string, value: unknown): Promise<string> {
  const options = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(JSON.stringify(value), { ...options, parser: "json" });
}
