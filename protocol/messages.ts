import * as z from 'zod/mini';

/** Messages the drone sends back (DESIGN.md "MQTT topics"): ack, reported and status. */
export const ACK_STATUSES = ['applied', 'dry-run', 'duplicate', 'rejected', 'deferred', 'superseded', 'failed'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];

const sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/));
const isoTime = z.string().check(z.minLength(20), z.maxLength(40));
const pathError = z.strictObject({ path: z.string(), message: z.string() });

/** One parameter of a diff or a push: what the config wants, what the FC has (null when unknown). */
export const ParamResultSchema = z.strictObject({
  name: z.string(),
  want: z.nullable(z.number()),
  got: z.nullable(z.number()),
  /** Push outcome for this parameter (see agent/fc): ok, unchanged, timeout, unknown, denied, mismatch, type-error, restored. */
  result: z.optional(z.string()),
  rebootRequired: z.optional(z.boolean()),
});
export type ParamResult = z.infer<typeof ParamResultSchema>;

export const AckSchema = z
  .strictObject({
    version: z.nullable(z.int().check(z.gte(0))),
    id: z.nullable(z.string()),
    sha256: z.nullable(sha256Hex),
    status: z.enum(ACK_STATUSES),
    /** The pipeline stage the ack was produced at: receive, verify, validate, version, window, lock, stage, push, aim, commit, done. */
    stage: z.string(),
    reason: z.nullable(z.string()),
    errors: z.array(pathError),
    params: z.array(ParamResultSchema),
    /** Outcome of the aim command: accepted, failed, denied, unsupported, timeout …; `via` names the MAVLink command used. */
    aim: z.nullable(z.strictObject({ result: z.string(), via: z.optional(z.string()) })),
    lockToken: z.nullable(z.int()),
    timings: z.strictObject({ totalMs: z.number().check(z.gte(0)), pushMs: z.nullable(z.number().check(z.gte(0))) }),
    /** Only on `failed`: whether the FC and the file are back on the previous config. */
    rolledBack: z.optional(z.boolean()),
    /** Error code (protocol/errors.ts) when status is rejected or failed. */
    code: z.optional(z.string()),
    at: isoTime,
  })
  .check(z.meta({ title: 'aim-ack', description: 'aim-agent ack event, published on aim/<drone>/config/ack' }));
export type Ack = z.infer<typeof AckSchema>;

export const ReportedSchema = z
  .strictObject({
    version: z.int().check(z.gte(0)),
    id: z.string(),
    sha256: sha256Hex,
    appliedAt: isoTime,
    fc: z.strictObject({
      verified: z.boolean(),
      drift: z.array(ParamResultSchema),
      /** True when drift found at start was pushed back to the file's values. */
      driftRepaired: z.optional(z.boolean()),
      /** When that repair was verified; `drift` then lists what is left (none), `repaired` what was pushed back. */
      repairedAt: z.optional(isoTime),
      repaired: z.optional(z.array(ParamResultSchema)),
    }),
  })
  .check(z.meta({ title: 'aim-reported', description: 'the config a drone has applied, retained on aim/<drone>/config/reported' }));
export type Reported = z.infer<typeof ReportedSchema>;

export const AGENT_STATES = ['online', 'applying', 'deferred', 'offline'] as const;
export const StatusSchema = z
  .strictObject({
    state: z.enum(AGENT_STATES),
    agentVersion: z.optional(z.string()),
    link: z.optional(z.enum(['up', 'down'])),
    armed: z.optional(z.nullable(z.boolean())),
    lock: z.optional(z.enum(['free', 'held', 'stale'])),
    uptimeS: z.optional(z.number().check(z.gte(0))),
    /** The version the drone has applied, so a fleet table needs only the status topic. */
    appliedVersion: z.optional(z.nullable(z.int().check(z.gte(0)))),
    at: z.optional(isoTime),
  })
  .check(z.meta({ title: 'aim-status', description: 'agent status, retained on aim/<drone>/status; the Last Will sets {"state":"offline"}' }));
export type Status = z.infer<typeof StatusSchema>;
