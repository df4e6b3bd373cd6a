import { AimError, canonicalSha256, type AimConfig } from '../../protocol/index.js';
import { asDryRun, isDryRun, withVersion, type SignedConfig } from '../config-io.js';
import type { DroneView } from '../fleet-link.js';
import type { Amount } from './amount.js';
import { newDroneRecord, type RolloutState } from './state.js';
import { allowedFailures } from './threshold.js';
import { planWaves } from './waves.js';

export interface RolloutRequest {
  rolloutId: string;
  brokerUrl: string;
  topicPrefix: string;
  config: AimConfig;
  /** Ordered: the canary is taken from the front. */
  drones: readonly string[];
  canary: number | readonly string[];
  waves: readonly Amount[];
  maxFailures: Amount;
  timeoutS: number;
  dryRun: boolean;
  rollback: boolean;
  skipOffline: boolean;
  /** `--version N`; otherwise the highest version any targeted drone has + 1. */
  version?: number;
  /**
   * `--previous-config FILE ...`: configs the operator kept. A drone whose applied sha256 matches one of
   * them gets exactly that one back on rollback; a drone whose previous config is found nowhere gets the first.
   */
  previousConfigs?: readonly AimConfig[];
  now: Date;
}

/** Key of the operator's `--previous-config` in `previousConfigs`. */
export const OPERATOR_PREVIOUS = 'operator-file';

const isOffline = (v: DroneView) => v.status === undefined || v.status.state === 'offline';

/**
 * Turn a request and the fleet's retained state into the initial roll-out state: version, plan,
 * thresholds, and each drone's previous config document (the document whose sha256 is the one the
 * drone reports applied: its retained desired, another drone's, or an operator's file). Refuses
 * (AimError) what would be rejected or could not be undone.
 */
export function prepareRollout(req: RolloutRequest, view: (droneId: string) => DroneView, sign: (config: AimConfig) => SignedConfig): RolloutState {
  const dryRun = req.dryRun || isDryRun(req.config);
  if (req.config.targets !== undefined) {
    const allowed = new Set(req.config.targets);
    const outside = req.drones.filter((d) => !allowed.has(d));
    if (outside.length > 0) throw new AimError('AIM_ERR_NOT_TARGET', `the config's targets do not include ${outside.join(', ')}; those drones would reject it`);
  }
  const skipped = req.skipOffline ? req.drones.filter((d) => isOffline(view(d))) : [];
  const skip = new Set(skipped);
  const planned = req.drones.filter((d) => !skip.has(d));
  if (planned.length === 0) throw new AimError('AIM_ERR_ROLLOUT_HALTED', 'every targeted drone is offline; nothing to roll out to');
  const canary = typeof req.canary === 'number' ? req.canary : req.canary.filter((d) => !skip.has(d));
  const waves = planWaves(planned, { canary, waves: req.waves });

  const highest = (d: string) => {
    const v = view(d);
    return Math.max(v.reported?.version ?? 0, v.status?.appliedVersion ?? 0, v.desired?.config.version ?? 0);
  };
  let version = req.version;
  if (version === undefined) version = Math.max(0, ...req.drones.map(highest)) + 1;
  else {
    const stale = req.drones.filter((d) => (view(d).reported?.version ?? 0) >= version!);
    if (stale.length > 0) throw new AimError('AIM_ERR_STALE', `--version ${version} is not above the version already applied on ${stale.join(', ')}`);
  }
  if (req.rollback && version + 1 > Number.MAX_SAFE_INTEGER) throw new AimError('AIM_ERR_STALE', 'no version is left for a rollback');

  const state: RolloutState = {
    kind: 'aimctl-rollout',
    stateVersion: 1,
    rolloutId: req.rolloutId,
    createdAt: req.now.toISOString(),
    updatedAt: req.now.toISOString(),
    brokerUrl: req.brokerUrl,
    topicPrefix: req.topicPrefix,
    dryRun,
    rollbackOnHalt: req.rollback,
    timeoutS: req.timeoutS,
    maxFailures: req.maxFailures.text,
    allowedFailures: allowedFailures(req.maxFailures, planned.length),
    config: { version: 0, id: '', sha256: '', jws: '' },
    waves,
    drones: {},
    previousConfigs: {},
    phase: 'rolling-out',
    currentWave: 0,
    halt: null,
    rollback: null,
    result: null,
  };
  // Every config document in sight, by sha256: a drone's applied config is often still retained as its
  // desired, but after a failed push it is not, and another drone's desired (or the operator's file) may be it.
  const known = new Map<string, AimConfig>();
  for (const c of req.previousConfigs ?? []) known.set(canonicalSha256(c), c);
  for (const d of req.drones) {
    const desired = view(d).desired;
    if (desired !== undefined && !isDryRun(desired.config)) known.set(desired.sha256, desired.config);
  }
  const fallback = req.previousConfigs?.[0];
  if (fallback !== undefined) state.previousConfigs[OPERATOR_PREVIOUS] = fallback;
  const waveOf = new Map(waves.flatMap((w, i) => w.drones.map((d) => [d, i] as const)));
  const unknownPrevious: string[] = [];
  for (const d of req.drones) {
    const rep = view(d).reported;
    let key: string | null = null;
    const doc = rep === undefined ? undefined : known.get(rep.sha256);
    if (rep !== undefined && doc !== undefined) {
      key = rep.sha256;
      state.previousConfigs[key] = doc;
    } else if (fallback !== undefined) key = OPERATOR_PREVIOUS;
    if (key === null && !skip.has(d)) unknownPrevious.push(d);
    state.drones[d] = newDroneRecord(waveOf.get(d) ?? -1, rep === undefined ? null : { version: rep.version, id: rep.id, sha256: rep.sha256 }, key);
    if (skip.has(d)) state.drones[d]!.reason = 'offline: skipped (--skip-offline)';
  }
  if (req.rollback && !dryRun && unknownPrevious.length > 0) {
    throw new AimError(
      'AIM_ERR_USAGE',
      `--rollback cannot restore ${unknownPrevious.join(', ')}: the broker does not hold the config they report applied; give --previous-config FILE`,
      { details: { drones: unknownPrevious } },
    );
  }
  const doc = withVersion(dryRun ? asDryRun(req.config) : req.config, version);
  state.config = sign(doc);
  return state;
}
