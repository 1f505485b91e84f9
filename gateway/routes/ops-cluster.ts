// GET /ops/cluster: which worker owns which partition, as the workers' member and lease entries in
// JetStream KV say (streams/cluster-view.ts reads them): members with their heartbeat age and
// partitions, one lease per partition, the partitions nobody owns, lease owners that are not
// members, and the last rebalance. Read only; a viewer's.
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ClusterMap } from "../../streams/cluster-view.ts";
import { logFor } from "../context.ts";
import type { OpsDeps } from "../deps.ts";
import { storeCall } from "../errors.ts";
import { errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

const Rebalance = z.object({
  at: z.string(),
  gained: z.number().int().describe("Partitions this worker took in that change."),
  lost: z.number().int().describe("Partitions this worker gave up in that change."),
});

const Member = z.object({
  worker_id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  started_at: z.string(),
  heartbeat_at: z.string(),
  heartbeat_age_ms: z.number().int().describe("Since its last heartbeat; the entry expires at lease_ttl_ms."),
  partitions: z.array(z.number().int()).describe("The partitions the worker says it holds."),
  owned: z
    .number()
    .int()
    .describe("How many lease entries name this worker (differs from partitions only mid hand-over)."),
  last_rebalance: Rebalance.nullable().describe("The last time its set of partitions changed."),
});

const Lease = z.object({
  partition: z.number().int(),
  owner: z.string().nullable().describe("null: no lease, nobody consumes this partition."),
  acquired_at: z.string().nullable(),
  renewed_at: z.string().nullable(),
  age_ms: z
    .number()
    .int()
    .nullable()
    .describe("Since the lease was last renewed; it expires at lease_ttl_ms."),
  revision: z
    .number()
    .int()
    .nullable()
    .describe("The lease entry's KV revision (its compare-and-swap token)."),
});

export const ClusterResponse = z
  .object({
    partitions: z.number().int().describe("The partitions of PAY_CMD (SWITCHYARD_PARTITIONS)."),
    lease_ttl_ms: z
      .number()
      .int()
      .describe("The members bucket's max age, or SWITCHYARD_LEASE_TTL_MS when no bucket exists yet."),
    members: z.array(Member).describe("Live workers (a member entry renewed within the TTL), by id."),
    leases: z.array(Lease).describe("One per partition, 0 to partitions - 1."),
    unowned: z.array(z.number().int()).describe("Partitions with no lease: their commands wait."),
    owners_not_members: z
      .array(z.object({ worker_id: z.string(), partitions: z.array(z.number().int()) }))
      .describe(
        "Lease owners without a member entry: a worker that stopped heartbeating; its leases expire.",
      ),
    last_rebalance: Rebalance.extend({ worker_id: z.string() })
      .nullable()
      .describe("The newest change of any member's partitions."),
    unreadable: z.number().int().describe("Entries skipped because they do not parse."),
  })
  .meta({ id: "Cluster" });

export const opsClusterRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const cluster = ops.cluster;
  if (!cluster) {
    done();
    return;
  }
  app.get(
    "/cluster",
    {
      schema: {
        summary: "Workers and the partitions they own",
        description:
          "The workers' member entries (heartbeat) and partition leases, from their JetStream KV buckets. " +
          "Before any worker ran with partition ownership, no member and every partition unowned.",
        tags,
        security,
        response: { 200: ClusterResponse, ...errorResponses(OPERATOR_ERRORS) },
      },
    },
    async (req, reply) => {
      const map = await storeCall(() => cluster.read(), {
        unavailable: "the cluster's KV buckets cannot be read right now; retry later",
        log: (err) => logFor(req).error({ err }, "cluster read failed"),
      });
      return reply.send(clusterBody(map));
    },
  );
  done();
};

export function clusterBody(m: ClusterMap): z.input<typeof ClusterResponse> {
  return {
    partitions: m.partitions,
    lease_ttl_ms: m.leaseTtlMs,
    members: m.members.map((w) => ({
      worker_id: w.worker_id,
      host: w.host,
      pid: w.pid,
      started_at: w.started_at,
      heartbeat_at: w.heartbeat_at,
      heartbeat_age_ms: w.heartbeatAgeMs,
      partitions: w.partitions,
      owned: w.owned,
      last_rebalance: w.last_rebalance,
    })),
    leases: m.leases.map((l) => ({
      partition: l.partition,
      owner: l.owner,
      acquired_at: l.acquiredAt,
      renewed_at: l.renewedAt,
      age_ms: l.ageMs,
      revision: l.revision,
    })),
    unowned: m.unowned,
    owners_not_members: m.ownersNotMembers.map((o) => ({ worker_id: o.workerId, partitions: o.partitions })),
    last_rebalance: m.lastRebalance && {
      at: m.lastRebalance.at,
      worker_id: m.lastRebalance.workerId,
      gained: m.lastRebalance.gained,
      lost: m.lastRebalance.lost,
    },
    unreadable: m.unreadable,
  };
}
