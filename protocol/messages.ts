import { z } from 'zod';

/** Messages the drone sends back (DESIGN.md "MQTT topics"): ack, reported and status. */
export const ACK_STATUSES = ['applied', 'dry-run', 'duplicate', 'rejected', 'deferred', 'superseded', 'failed'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const isoTime = z.string().min(20).max(40);
const pathError = z.strictObject({ path: z.string(), message: z.string() });

/** One parameter of a diff or a push: what the config wants, what the FC has (null when unknown). */
export const ParamResultSchema = z.strictObject({
  name: z.string(),
  want: z.number().nullable(),
  got: z.number().nullable(),
  /** Push outcome for this parameter (see agent/fc): ok, unchanged, timeout, unknown, denied, mismatch, type-error, restored. */
  result: z.string().optional(),
  rebootRequired: z.boolean().optional(),
});
export type ParamResult = z.infer<typeof ParamResultSchema>;

export const AckSchema = z
  .strictObject({
    version: z.int().min(0).nullable(),
    id: z.string().nullable(),
    sha256: sha256Hex.nullable(),
    status: z.enum(ACK_STATUSES),
    /** The pipeline stage the ack was produced at: receive, verify, validate, version, window, lock, stage, push, aim, commit, done. */
    stage: z.string(),
    reason: z.string().nullable(),
    errors: z.array(pathError),
    params: z.array(ParamResultSchema),
    /** Outcome of the aim command: accepted, failed, denied, unsupported, timeout …; `via` names the MAVLink command used. */
    aim: z.strictObject({ result: z.string(), via: z.string().optional() }).nullable(),
    lockToken: z.int().nullable(),
    timings: z.strictObject({ totalMs: z.number().min(0), pushMs: z.number().min(0).nullable() }),
    /** Only on `failed`: whether the FC and the file are back on the previous config. */
    rolledBack: z.boolean().optional(),
    /** Error code (protocol/errors.ts) when status is rejected or failed. */
    code: z.string().optional(),
    at: isoTime,
  })
  .meta({ title: 'aim-ack', description: 'aim-agent ack event, published on aim/<drone>/config/ack' });
export type Ack = z.infer<typeof AckSchema>;

export const ReportedSchema = z
  .strictObject({
    version: z.int().min(0),
    id: z.string(),
    sha256: sha256Hex,
    appliedAt: isoTime,
    fc: z.strictObject({
      verified: z.boolean(),
      drift: z.array(ParamResultSchema),
      /** True when drift found at start was pushed back to the file's values. */
      driftRepaired: z.boolean().optional(),
    }),
  })
  .meta({ title: 'aim-reported', description: 'the config a drone has applied, retained on aim/<drone>/config/reported' });
export type Reported = z.infer<typeof ReportedSchema>;

export const AGENT_STATES = ['online', 'applying', 'deferred', 'offline'] as const;
export const StatusSchema = z
  .strictObject({
    state: z.enum(AGENT_STATES),
    agentVersion: z.string().optional(),
    link: z.enum(['up', 'down']).optional(),
    armed: z.boolean().nullable().optional(),
    lock: z.enum(['free', 'held', 'stale']).optional(),
    uptimeS: z.number().min(0).optional(),
    /** The version the drone has applied, so a fleet table needs only the status topic. */
    appliedVersion: z.int().min(0).nullable().optional(),
    at: isoTime.optional(),
  })
  .meta({ title: 'aim-status', description: 'agent status, retained on aim/<drone>/status; the Last Will sets {"state":"offline"}' });
export type Status = z.infer<typeof StatusSchema>;
