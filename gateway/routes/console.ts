// The operators' console: GET /console (the page) and GET /console/assets/<file> (its scripts and
// styles), read once from gateway/console/ when the gateway starts. The page is public and holds
// no data; everything it shows comes from /ops with the key the operator types in. Only the files
// found at start-up are served, by exact name: a path that names anything else is a 404, so no
// request can reach a file outside that folder. Strict CSP, no sniffing, no referrer.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "../errors.ts";

export const CONSOLE_DIR = fileURLToPath(new URL("../console/", import.meta.url));

export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

type Asset = { body: Buffer; type: string; etag: string };

/** The servable files of the folder: plain names with a known type, nothing nested. */
export function loadConsoleAssets(dir: string = CONSOLE_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined || !/^[a-z0-9][a-z0-9._-]*$/.test(entry.name)) continue;
    const body = readFileSync(join(dir, entry.name));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    assets.set(entry.name, { body, type, etag });
  }
  return assets;
}

export const consoleRoutes: FastifyPluginCallback = (app, _opts, done) => {
  const assets = loadConsoleAssets();
  const page = assets.get("index.html");
  if (!page) throw new Error(`the console page is missing: ${join(CONSOLE_DIR, "index.html")}`);

  // Revalidated on every load (no hashed file names, so no long caching): an unchanged file is a
  // 304 without a body.
  const send = (req: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    void reply
      .header("content-security-policy", CONSOLE_CSP)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("x-frame-options", "DENY")
      .header("cache-control", "no-cache")
      .header("etag", asset.etag);
    if (req.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  };

  const hide = { schema: { hide: true } };
  app.get("/console", hide, async (req, reply) => send(req, reply, page));
  app.get("/console/", hide, async (req, reply) => send(req, reply, page));
  app.get<{ Params: { file: string } }>("/console/assets/:file", hide, async (req, reply) => {
    const asset = req.params.file === "index.html" ? undefined : assets.get(req.params.file);
    if (!asset) throw new ApiError("not_found", `no console asset named ${req.params.file}`);
    return send(req, reply, asset);
  });
  done();
};
