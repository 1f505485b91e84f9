// The unauthenticated operational endpoints: liveness, readiness of each dependency, Prometheus
// metrics and the OpenAPI document. None of them reveals more than "ok" or "failed".
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { GatewayDeps, ReadinessCheck } from "../deps.ts";
import { HealthResponse, ReadyResponse } from "../schemas.ts";

const CHECK_TIMEOUT_MS = 1_000;

type CheckResult = "ok" | "failed" | "timeout";

export const systemRoutes: FastifyPluginCallbackZod<GatewayDeps> = (app, deps, done) => {
  const tags = ["system"];

  async function run(c: ReadinessCheck): Promise<CheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve("timeout"), CHECK_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        c.check().then(
          () => "ok" as const,
          (err: unknown) => {
            app.log.warn({ err, check: c.name }, "readiness check failed");
            return "failed" as const;
          },
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  app.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness: the process answers",
        tags,
        security: [],
        response: { 200: HealthResponse },
      },
    },
    async (_req, reply) => reply.send({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness: every dependency answers within a second",
        tags,
        security: [],
        response: {
          200: ReadyResponse.describe("Ready to take traffic."),
          503: ReadyResponse.describe("At least one dependency failed; `checks` says which."),
        },
      },
    },
    async (_req, reply) => {
      const results = await Promise.all(deps.readiness.map(async (c) => [c.name, await run(c)] as const));
      const checks: Record<string, string> = Object.fromEntries(results);
      const ready = results.every(([, r]) => r === "ok");
      // Said, not failed: a closed notification door leaves the merchant API whole, and taking the
      // gateway out of rotation for it would stop every payment (docs/notifications.md).
      const closed = deps.pspNotifications?.closed ?? [];
      if (deps.pspNotifications)
        checks.psp_notifications = closed.length ? `closed: ${closed.join(", ")}` : "ok";
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics of this process",
        description:
          "The Prometheus text exposition format (version 0.0.4): the switchyard_* metrics listed " +
          "in docs/architecture.md and the process's default metrics. No key needed; expose it " +
          "only where Prometheus scrapes.",
        tags,
        security: [],
        response: {
          200: {
            description: "The metrics, one sample per line.",
            content: { "text/plain": { schema: z.string() } },
          },
        },
      },
    },
    async (_req, reply) => {
      const body = await deps.metrics.render();
      return reply.header("content-type", deps.metrics.registry.contentType).send(body);
    },
  );

  app.get(
    "/openapi.json",
    {
      schema: {
        summary: "This document",
        description: "OpenAPI 3.0, generated from the zod schemas the gateway validates with.",
        tags,
        security: [],
        response: { 200: z.record(z.string(), z.unknown()).describe("The OpenAPI document.") },
      },
    },
    async (_req, reply) => reply.send(app.swagger() as unknown as Record<string, unknown>),
  );

  done();
};
