import * as z from 'zod/mini';
import { MOUNT_MODES, paramSpec, type MountModeName } from './param-table.js';

/**
 * aim-config v1, as DESIGN.md "Aim configuration" defines it. This zod schema is the one source for
 * the TypeScript types, runtime validation and the generated JSON Schema (protocol/schemas/).
 * Rules JSON Schema cannot say (min < max, aim inside the limits, ranges per ArduPilot parameter)
 * live in the refinements below and in validate.ts.
 */
export const PARAM_NAME_RE = /^[A-Z][A-Z0-9_]{0,15}$/;
export const DRONE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** RFC 3339 date-time: a full date, a time, and Z or a numeric offset. */
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** A number within [lo, hi] (JSON has no NaN or Infinity; the strict reader refuses 1e999). */
const between = (lo: number, hi: number) => z.number().check(z.gte(lo), z.lte(hi));
const intBetween = (lo: number, hi: number) => z.int().check(z.gte(lo), z.lte(hi));
const rfc3339 = () =>
  z.string().check(
    z.regex(RFC3339_RE, { message: 'must be an RFC 3339 date-time such as 2026-11-26T13:00:00Z' }),
    z.refine((s) => !Number.isNaN(Date.parse(s)), { message: 'is not a real date-time' }),
  );

const axisLimits = (lo: number, hi: number) =>
  z.strictObject({
    minDeg: between(lo, hi),
    maxDeg: between(lo, hi),
  });

const angleTriple = z.strictObject({
  rollDeg: between(-180, 180),
  pitchDeg: between(-180, 180),
  yawDeg: between(-180, 180),
});

export const MountSchema = z.strictObject({
  pitch: z.optional(axisLimits(-90, 90)),
  yaw: z.optional(axisLimits(-180, 180)),
  roll: z.optional(axisLimits(-180, 180)),
  rcRateDegS: z.optional(intBetween(0, 90)),
  defaultMode: z.optional(z.enum(Object.keys(MOUNT_MODES) as [MountModeName, ...MountModeName[]])),
  neutral: z.optional(angleTriple),
  retract: z.optional(angleTriple),
});

export const AimPointSchema = z.strictObject({
  pitchDeg: between(-90, 90),
  yawDeg: between(-180, 180),
  yawFrame: z.optional(z.enum(['vehicle', 'earth'])),
  gimbalId: z.optional(intBetween(0, 255)),
});

export const AimRoiSchema = z.strictObject({
  roi: z.strictObject({
    latDeg: between(-90, 90),
    lonDeg: between(-180, 180),
    altM: between(-1000, 100000),
  }),
});

export const ApplySchema = z
  .strictObject({
    when: z.enum(['immediate', 'disarmed']),
    deadlineSec: z.optional(intBetween(1, 7 * 24 * 3600)),
    dryRun: z.optional(z.boolean()),
  })
  .check(
    z.superRefine((v, ctx) => {
      if (v.deadlineSec !== undefined && v.when !== 'disarmed') {
        ctx.addIssue({ code: 'custom', path: ['deadlineSec'], message: 'only applies when apply.when is "disarmed"' });
      }
    }),
  );

/**
 * Raw parameters per config, at most. The apply window must stay short: 64 raw parameters plus the
 * 15 that `mount` can set are ~80 reads and ~80 verified sets, each a ~37-byte PARAM_VALUE back, about
 * 6 KB, ~1 s of a 57600-baud telemetry radio (5.7 KB/s) shared with the streams; with a few retries it
 * still ends well inside the 10 s shutdown grace. A gimbal setup needs a few dozen at most.
 */
export const MAX_CONFIG_PARAMS = 64;

export const ParamsSchema = z
  .record(
    z.string().check(z.regex(PARAM_NAME_RE, { message: 'parameter names are 1-16 characters of A-Z, 0-9 and _, starting with a letter' })),
    z.number(),
  )
  .check(
    z.refine((o) => Object.keys(o).length <= MAX_CONFIG_PARAMS, {
      message: `at most ${MAX_CONFIG_PARAMS} parameters per config (split a larger change into several versions)`,
      abort: true,
    }),
    z.meta({ maxProperties: MAX_CONFIG_PARAMS }),
  );

export const AimConfigSchema = z
  .strictObject({
    kind: z.literal('aim-config'),
    schemaVersion: z.literal(1),
    version: intBetween(1, Number.MAX_SAFE_INTEGER),
    id: z.string().check(z.minLength(1), z.maxLength(128)),
    issuedAt: rfc3339(),
    expiresAt: z.optional(rfc3339()),
    /** Drone ids this config is for; absent means any drone whose desired topic it arrives on. */
    targets: z.optional(
      z.array(z.string().check(z.regex(DRONE_ID_RE, { message: 'drone ids are 1-64 characters of A-Z, a-z, 0-9, _ and -' }))).check(z.minLength(1), z.maxLength(10000)),
    ),
    apply: z.optional(ApplySchema),
    mount: z.optional(MountSchema),
    aim: z.optional(z.union([AimPointSchema, AimRoiSchema])),
    params: z.optional(ParamsSchema),
  })
  .check(z.meta({ title: 'aim-config', description: 'aim-agent gimbal/aim configuration, schema version 1' }));

export type AimConfig = z.infer<typeof AimConfigSchema>;
export type Mount = z.infer<typeof MountSchema>;
export type AimPoint = z.infer<typeof AimPointSchema>;
export type AimRoi = z.infer<typeof AimRoiSchema>;

/** Parameter names that `mount` sets; a raw `params` entry may not set them a second time. */
export const MOUNT_FIELD_PARAMS: Record<keyof Mount, readonly string[]> = {
  pitch: ['MNT1_PITCH_MIN', 'MNT1_PITCH_MAX'],
  yaw: ['MNT1_YAW_MIN', 'MNT1_YAW_MAX'],
  roll: ['MNT1_ROLL_MIN', 'MNT1_ROLL_MAX'],
  rcRateDegS: ['MNT1_RC_RATE'],
  defaultMode: ['MNT1_DEFLT_MODE'],
  neutral: ['MNT1_NEUTRAL_X', 'MNT1_NEUTRAL_Y', 'MNT1_NEUTRAL_Z'],
  retract: ['MNT1_RETRACT_X', 'MNT1_RETRACT_Y', 'MNT1_RETRACT_Z'],
};

type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Rules across fields. They read the document defensively, so they also run when its structure has
 * errors and every finding is reported at once. Returns `path: message` findings.
 */
export function semanticErrors(doc: unknown): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  const cfg = obj(doc);
  if (cfg === undefined) return errors;
  const issued = typeof cfg.issuedAt === 'string' ? Date.parse(cfg.issuedAt) : NaN;
  const expires = typeof cfg.expiresAt === 'string' ? Date.parse(cfg.expiresAt) : NaN;
  if (!Number.isNaN(issued) && !Number.isNaN(expires) && !(expires > issued)) {
    errors.push({ path: 'expiresAt', message: `must be after issuedAt (${String(cfg.expiresAt)} <= ${String(cfg.issuedAt)})` });
  }
  const mount = obj(cfg.mount);
  const limits: Partial<Record<'pitch' | 'yaw' | 'roll', { min: number; max: number }>> = {};
  for (const axis of ['pitch', 'yaw', 'roll'] as const) {
    const lim = obj(mount?.[axis]);
    const min = num(lim?.minDeg);
    const max = num(lim?.maxDeg);
    if (min === undefined || max === undefined) continue;
    if (!(min < max)) errors.push({ path: `mount.${axis}.minDeg`, message: `must be less than mount.${axis}.maxDeg (${min} >= ${max})` });
    else limits[axis] = { min, max };
  }
  const mountParams = new Set<string>();
  for (const [field, names] of Object.entries(MOUNT_FIELD_PARAMS)) {
    if (mount?.[field] !== undefined) names.forEach((n) => mountParams.add(n));
  }
  for (const [name, raw] of Object.entries(obj(cfg.params) ?? {})) {
    const path = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `params.${name}` : `params[${JSON.stringify(name)}]`;
    if (mountParams.has(name)) {
      errors.push({ path, message: 'is already set by mount; set it there instead' });
      continue;
    }
    const value = num(raw);
    const spec = paramSpec(name);
    if (spec === undefined || value === undefined) continue;
    if (spec.readOnly) errors.push({ path, message: 'is read-only on the flight controller' });
    else if (spec.min !== undefined && spec.max !== undefined && (value < spec.min || value > spec.max)) {
      errors.push({ path, message: `must be between ${spec.min} and ${spec.max}${spec.units ? ' ' + spec.units : ''} (got ${value})` });
    } else if (spec.type !== 'REAL32' && !Number.isInteger(value)) {
      errors.push({ path, message: `must be an integer (${spec.type} parameter, got ${value})` });
    }
  }
  const aim = obj(cfg.aim);
  if (aim !== undefined && aim.roi === undefined) {
    const check = (axis: 'pitch' | 'yaw') => {
      const lim = limits[axis];
      const value = num(aim[`${axis}Deg`]);
      if (lim === undefined || value === undefined) return;
      if (value < lim.min || value > lim.max) {
        errors.push({ path: `aim.${axis}Deg`, message: `must be inside mount.${axis} (${lim.min} to ${lim.max}), got ${value}` });
      }
    };
    check('pitch');
    // Earth-frame yaw depends on the vehicle heading, so only vehicle-frame yaw can be checked here.
    if ((aim.yawFrame ?? 'vehicle') === 'vehicle') check('yaw');
  }
  return errors;
}
