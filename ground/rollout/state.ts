import { z } from 'zod';
import { ACK_STATUSES, ParamResultSchema } from '../../protocol/index.js';

/**
 * The roll-out state file: everything `aimctl rollout --resume FILE` needs to carry on (or roll back)
 * after Ctrl-C or a crash, written atomically after every step. It holds no secret: the signed desired
 * config, the plan, each drone's outcome and the PREVIOUS config document of every drone (read from the
 * broker before anything was published), so a rollback can re-issue it under a new version.
 */
export const DRONE_STATES = ['planned', 'skipped', 'offline', 'published', 'deferred', 'applied', 'dry-run', 'failed', 'rejected', 'superseded', 'timeout'] as const;
export type DroneState = (typeof DRONE_STATES)[number];

export const ROLLBACK_STATES = ['published', 'deferred', 'restored', 'failed', 'rejected', 'superseded', 'timeout', 'no-previous'] as const;
export type RollbackState = (typeof ROLLBACK_STATES)[number];

export const PHASES = ['rolling-out', 'halted', 'rolling-back', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const RESULTS = ['succeeded', 'completed-with-failures', 'halted', 'rolled-back', 'rollback-incomplete', 'interrupted'] as const;
export type RolloutResult = (typeof RESULTS)[number];

const AckNoteSchema = z.object({
  status: z.enum(ACK_STATUSES),
  stage: z.string().nullable(),
  code: z.string().nullable(),
  rolledBack: z.boolean().nullable(),
  at: z.string().nullable(),
});

const DroneRecordSchema = z.object({
  /** Index into `waves`; -1 for a drone skipped before planning (offline with --skip-offline). */
  wave: z.int(),
  previous: z.object({ version: z.int(), id: z.string(), sha256: z.string() }).nullable(),
  /** Key into `previousConfigs` of the document a rollback re-issues; null when it is not known. */
  previousKey: z.string().nullable(),
  state: z.enum(DRONE_STATES),
  reason: z.string().nullable(),
  ack: AckNoteSchema.nullable(),
  /** The parameter diff of a dry-run ack. */
  params: z.array(ParamResultSchema).nullable(),
  publishedAt: z.string().nullable(),
  elapsedMs: z.number().nullable(),
  rollback: z
    .object({ state: z.enum(ROLLBACK_STATES), reason: z.string().nullable(), sha256: z.string().nullable(), elapsedMs: z.number().nullable() })
    .nullable(),
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
  timeoutS: z.number().positive(),
  maxFailures: z.string(),
  allowedFailures: z.int().min(0),
  config: SignedSchema,
  waves: z.array(z.object({ name: z.string(), spec: z.string(), drones: z.array(z.string()) })).min(1),
  drones: z.record(z.string(), DroneRecordSchema),
  previousConfigs: z.record(z.string(), z.unknown()),
  phase: z.enum(PHASES),
  currentWave: z.int().min(0),
  halt: z.object({ wave: z.int(), reason: z.string(), failures: z.int(), allowed: z.int() }).nullable(),
  rollback: z.object({ version: z.int(), configs: z.record(z.string(), SignedSchema) }).nullable(),
  result: z.enum(RESULTS).nullable(),
});
export type RolloutState = z.infer<typeof RolloutStateSchema>;

/** A drone record as planning creates it. */
export function newDroneRecord(wave: number, previous: DroneRecord['previous'], previousKey: string | null): DroneRecord {
  return { wave, previous, previousKey, state: wave < 0 ? 'skipped' : 'planned', reason: null, ack: null, params: null, publishedAt: null, elapsedMs: null, rollback: null };
}
