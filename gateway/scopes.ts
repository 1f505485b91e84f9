// Which scope each merchant route needs: one table, method and route pattern to scope, applied by
// the /v1 auth hook. A /v1 route missing from the table fails the gateway's start (assertScoped),
// so a new route can never be reachable by every key by omission.
import type { FastifyInstance } from "fastify";
import { Scope } from "../actors/merchants/core/keys.ts";

export const ROUTE_SCOPES: Readonly<Record<string, Scope>> = {
  "GET /v1/payments/:id": Scope.paymentsRead,
  "GET /v1/payments": Scope.paymentsRead,
  "POST /v1/payments": Scope.paymentsWrite,
  "POST /v1/card-tokens": Scope.paymentsWrite,
  "POST /v1/payments/:id/capture": Scope.paymentsWrite,
  "POST /v1/payments/:id/cancel": Scope.paymentsWrite,
  "POST /v1/payments/:id/refunds": Scope.refundsWrite,
  "GET /v1/events/:id": Scope.paymentsRead,
  "GET /v1/events": Scope.paymentsRead,
  "GET /v1/webhook_endpoints/:id/deliveries": Scope.webhooksManage,
  "POST /v1/events/:id/redeliver": Scope.webhooksManage,
  "POST /v1/webhook_endpoints/:id/replay": Scope.webhooksManage,
  "POST /v1/webhook_endpoints": Scope.webhooksManage,
  "GET /v1/webhook_endpoints": Scope.webhooksManage,
  "GET /v1/webhook_endpoints/:id": Scope.webhooksManage,
  "PATCH /v1/webhook_endpoints/:id": Scope.webhooksManage,
  "DELETE /v1/webhook_endpoints/:id": Scope.webhooksManage,
  "POST /v1/webhook_endpoints/:id/rotate_secret": Scope.webhooksManage,
};

/** The scope a request needs, by its route pattern; undefined for no route (answered 404). HEAD is GET's. */
export function scopeFor(method: string, routeUrl: string | undefined): Scope | undefined {
  if (routeUrl === undefined) return undefined;
  return ROUTE_SCOPES[`${method === "HEAD" ? "GET" : method} ${routeUrl}`];
}

/** onRoute guard of the /v1 scope: every route it declares must have a row in ROUTE_SCOPES. */
export function assertScoped(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat())
      if (scopeFor(method, route.url) === undefined)
        throw new Error(`${method} ${route.url} has no scope in gateway/scopes.ts ROUTE_SCOPES`);
  });
}
