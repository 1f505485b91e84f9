// The published NATS contract (issue 20, docs/nats.md): GET /schemas (the registry's index),
// GET /schemas/{name}/{version}.json (one version's JSON Schema) and GET /asyncapi.json. Read-only
// and public like /openapi.json: they describe the platform, hold no data. Served from the committed
// files under schemas/ (copied into dist by scripts/build.ts), read once when the gateway starts; a
// request's name and version are only ever keys into that map, never a path on disk.
import { readFileSync } from "node:fs";
import type { FastifyReply } from "fastify";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Logger } from "../../config/log.ts";
import { ApiError } from "../errors.ts";
import { errorResponses } from "./docs.ts";

/** Where the committed files are: schemas/ at the root, from gateway/routes/ in the sources and in dist. */
const SCHEMAS_DIR = new URL("../../schemas/", import.meta.url);

type IndexDocument = { messages: Array<{ name: string; versions: Array<{ version: number }> }> };

export type Contract = {
  index: string;
  asyncapi: string;
  /** `${name}/${version}` → the schema's JSON text. */
  schemas: ReadonlyMap<string, string>;
};

/** Reads index.json, asyncapi.json and every version the index lists; throws when one is missing. */
export function loadContract(dir: URL = SCHEMAS_DIR): Contract {
  const read = (path: string): string => readFileSync(new URL(path, dir), "utf8");
  const index = read("index.json");
  const schemas = new Map<string, string>();
  for (const m of (JSON.parse(index) as IndexDocument).messages)
    for (const v of m.versions) schemas.set(`${m.name}/${v.version}`, read(`${m.name}/${v.version}.json`));
  return { index, asyncapi: read("asyncapi.json"), schemas };
}

const NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const FILE = /^[1-9][0-9]{0,5}\.json$/;

const SchemaParams = z.object({
  name: z.string().max(64).regex(NAME, "a schema name: lowercase letters, digits and dashes"),
  file: z.string().max(12).regex(FILE, "a version file: <version>.json, e.g. 1.json"),
});

const JsonDocument = z.record(z.string(), z.unknown());
const tags = ["system"];
const CACHE = "public, max-age=300";

export const contractRoutes: FastifyPluginCallbackZod<{ log: Logger; contract?: Contract }> = (
  app,
  opts,
  done,
) => {
  const contract = opts.contract ?? loadContract();
  opts.log.info({ schemas: contract.schemas.size }, "contract: serving /schemas and /asyncapi.json");
  // The committed bytes as they are (a string payload is sent without serializing again).
  const send = (reply: FastifyReply, text: string) =>
    reply.header("cache-control", CACHE).type("application/json; charset=utf-8").send(text);

  app.get(
    "/schemas",
    {
      schema: {
        summary: "The schema registry: every NATS message by name and version",
        description:
          "The index of schemas/ (docs/nats.md): each message's versions and where their JSON Schemas are.",
        tags,
        security: [],
        response: { 200: JsonDocument.describe("schemas/index.json") },
      },
    },
    async (_req, reply) => send(reply, contract.index),
  );

  app.get(
    "/schemas/:name/:file",
    {
      schema: {
        summary: "One version of one message: its JSON Schema (draft 2020-12)",
        description: "A published version never changes; a change is a new version (docs/nats.md).",
        tags,
        security: [],
        params: SchemaParams,
        response: {
          200: JsonDocument.describe("The JSON Schema."),
          ...errorResponses("schema_not_found"),
        },
      },
    },
    async (req, reply) => {
      const version = Number(req.params.file.slice(0, -".json".length));
      const text = contract.schemas.get(`${req.params.name}/${version}`);
      if (text === undefined)
        throw new ApiError("schema_not_found", `no schema ${req.params.name} version ${version}`, {
          name: req.params.name,
          version,
        });
      return send(reply, text);
    },
  );

  app.get(
    "/asyncapi.json",
    {
      schema: {
        summary: "The AsyncAPI 3.0 document of the NATS subjects",
        description: "Channels, operations per role and messages of the platform's NATS contract.",
        tags,
        security: [],
        response: { 200: JsonDocument.describe("The AsyncAPI document.") },
      },
    },
    async (_req, reply) => send(reply, contract.asyncapi),
  );

  done();
};
