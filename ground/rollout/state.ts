import * as z from 'zod/mini';
import { ACK_STATUSES, ParamResultSchema } from '../../protocol/index.js';

/**
 * The roll-out state file: everything `aimctl rollout --resume FILE` needs to carry on (or roll back)
 * after Ctrl-C or a crash, written atomically after every step. It holds no secret: the signed desired
 * config, the plan, each drone's outcome and the PREVIOUS config document of every drone (read from the
 * broker before anything was published), so a rollback can re-issue it under a new version.
 */
export const DRONE_STATES = ['planned', 'skipped', 'offline', 'published', 'deferred', 'applied', 'dry-run', 'failed', 'rejected', 'superseded', 'timeout'] as const;
export type DroneState = (typeof DRONE_STATES)[number];

/**
 * After a halt, each drone that was sent the halted config is restored: its previous config re-issued
 * (`restored` once it applies) or, when it had none, its desired topic cleared (`cleared`). `queued`: it
 * was offline, the retained desired waits for it (its final state is not known yet).
 */
export const ROLLBACK_STATES = ['published', 'deferred', 'restored', 'cleared', 'queued', 'failed', 'rejected', 'superseded', 'timeout', 'no-previous'] as const;
export type RollbackState = (typeof ROLLBACK_STATES)[number];

export const PHASES = ['rolling-out', 'halted', 'rolling-back', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const RESULTS = ['succeeded', 'completed-with-failures', 'halted', 'rolled-back', 'rollback-incomplete', 'interrupted'] as const;
export type RolloutResult = (typeof RESULTS)[number];

const AckNoteSchema = z.object({
  status: z.enum(ACK_STATUSES),
  stage: z.nullable(z.string()),
  code: z.nullable(z.string()),
  rolledBack: z.nullable(z.boolean()),
  at: z.nullable(z.string()),
  /** How the outcome was learnt: the ack itself, or the retained `reported` (published just before the ack). */
  via: z.optional(z.enum(['ack', 'reported'])),
  /** The drone's own apply time (`timings.totalMs`). */
  totalMs: z.optional(z.nullable(z.number())),
});
export type AckNote = z.infer<typeof AckNoteSchema>;

const DroneRecordSchema = z.object({
  /** Index into `waves`; -1 for a drone skipped before planning (offline with --skip-offline). */
  wave: z.int(),
  previous: z.nullable(z.object({ version: z.int(), id: z.string(), sha256: z.string() })),
  /** Key into `previousConfigs` of the document a rollback re-issues; null when it is not known. */
  previousKey: z.nullable(z.string()),
  state: z.enum(DRONE_STATES),
  reason: z.nullable(z.string()),
  ack: z.nullable(AckNoteSchema),
  /** The parameter diff of a dry-run ack. */
  params: z.nullable(z.array(ParamResultSchema)),
  publishedAt: z.nullable(z.string()),
  elapsedMs: z.nullable(z.number()),
  rollback: z.nullable(
    z.object({
      state: z.enum(ROLLBACK_STATES),
      /** `reissue` the previous config, or `clear` the desired topic (the drone had no previous config). */
      action: z.optional(z.enum(['reissue', 'clear'])),
      reason: z.nullable(z.string()),
      sha256: z.nullable(z.string()),
      elapsedMs: z.nullable(z.number()),
    }),
  ),
});
export type DroneRecord = z.infer<typeof DroneRecordSchema>;

const SignedSchema = z.object({ version: z.int(), id: z.string(), sha256: z.string(), jws: z.string() });
export type SignedConfig = z.infer<typeof SignedSchema>;

export const RolloutStateSchema = z.object({
  kind: z.literal('aimctl-rollout'),
  stateVersion: z.literal(1),
  rolloutId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  brokerUrl: z.string(),
  topicPrefix: z.string(),
  dryRun: z.boolean(),
  rollbackOnHalt: z.boolean(),
  timeoutS: z.number().check(z.positive()),
  maxFailures: z.string(),
  allowedFailures: z.int().check(z.gte(0)),
  config: SignedSchema,
  waves: z.array(z.object({ name: z.string(), spec: z.string(), drones: z.array(z.string()) })).check(z.minLength(1)),
  drones: z.record(z.string(), DroneRecordSchema),
  previousConfigs: z.record(z.string(), z.unknown()),
  phase: z.enum(PHASES),
  currentWave: z.int().check(z.gte(0)),
  halt: z.nullable(z.object({ wave: z.int(), reason: z.string(), failures: z.int(), allowed: z.int() })),
  /**
   * Recorded with the halt, before anything is published. `scope`: `all-sent` (--rollback: every drone
   * that was sent the halted config gets its previous one back) or `not-applied` (a plain halt: the
   * drones that applied keep it, the others are restored so the halted config can never land later).
   */
  rollback: z.nullable(z.object({ version: z.int(), configs: z.record(z.string(), SignedSchema), scope: z.optional(z.enum(['all-sent', 'not-applied'])) })),
  result: z.nullable(z.enum(RESULTS)),
});
export type RolloutState = z.infer<typeof RolloutStateSchema>;

/** A drone record as planning creates it. */
export function newDroneRecord(wave: number, previous: DroneRecord['previous'], previousKey: string | null): DroneRecord {
  return { wave, previous, previousKey, state: wave < 0 ? 'skipped' : 'planned', reason: null, ack: null, params: null, publishedAt: null, elapsedMs: null, rollback: null };
}
