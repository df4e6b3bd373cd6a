import type { AimConfig } from '../../protocol/index.js';
import type { SignedConfig } from '../config-io.js';
import { correlationFor, type FleetLink } from '../fleet-link.js';
import type { ProgressEvent, SummaryRow } from './events.js';
import { ackNote, ackReason, reportedNote } from './ack-note.js';
import { isFailure, isFinal, isRestoredState, isSuccess, stateForAck } from './outcome.js';
import { planRestore, runRestore } from './restore.js';
import type { DroneRecord, RolloutState } from './state.js';
import { pastThreshold } from './threshold.js';
import { watchDrones, type Expectation } from './watch.js';

export interface EngineDeps {
  link: FleetLink;
  /** Persist the state: `request` coalesces, `flush` waits until it is on disk. */
  saver: { request(): void; flush(): Promise<void> };
  emit(event: ProgressEvent): void;
  /** Signs rollback configs; throws (AIM_ERR_KEY) when no key was given. */
  sign(config: AimConfig): SignedConfig;
  now(): number;
  signal?: AbortSignal;
  /** Test hook at named points (`restore-recorded`: the halt and the restore plan are on disk, nothing restored yet). */
  failpoint?(name: string): Promise<void>;
}

export interface EngineOptions {
  /** Stop here and roll back what was updated (`--resume FILE --rollback-now`). */
  rollbackNow?: boolean;
}

/**
 * Run (or carry on) a roll-out from its state: the canary, then each wave, halting once failures pass
 * the threshold (the canary tolerates none), then, when asked, the rollback. Every wave is published
 * only after the state file records it, so a crash never leaves a wave the state file does not know.
 * Returns false when interrupted (the state file is current; `--resume` carries on).
 */
export async function runRollout(state: RolloutState, deps: EngineDeps, opts: EngineOptions = {}): Promise<boolean> {
  state.result = null;
  if (opts.rollbackNow && !state.dryRun && state.phase !== 'rolling-back') {
    state.halt ??= { wave: Math.min(state.currentWave, state.waves.length - 1), reason: 'stopped by the operator', failures: countFailures(state, state.waves.length - 1), allowed: state.allowedFailures };
    planRestore(state, 'all-sent');
  }
  while (state.phase === 'rolling-out') {
    const w = state.currentWave;
    if (w >= state.waves.length) {
      state.phase = 'done';
      break;
    }
    if ((await runWave(state, w, deps)) === 'aborted') return false;
    const wave = state.waves[w]!;
    const failures = countFailures(state, w);
    const allowed = w === 0 ? 0 : state.allowedFailures;
    const succeeded = wave.drones.filter((d) => isSuccess(state.drones[d]!.state, state.dryRun)).length;
    deps.emit({ event: 'wave-end', wave: w, name: wave.name, succeeded, failed: wave.drones.length - succeeded, failures, allowed });
    if (pastThreshold(failures, allowed)) {
      const reason = w === 0 ? `the canary failed (${failures} of ${wave.drones.length})` : `${failures} failure(s), more than the ${allowed} allowed by --max-failures ${state.maxFailures}`;
      state.halt = { wave: w, reason, failures, allowed };
      // A dry run changed nothing. Otherwise the halt is recorded together with the restore it owes: the
      // drones that were sent the halted config must not be able to apply it later.
      if (state.dryRun) state.phase = 'halted';
      else planRestore(state, state.rollbackOnHalt ? 'all-sent' : 'not-applied');
      deps.emit({ event: 'halt', wave: w, name: wave.name, reason, failures, allowed });
      await deps.saver.flush();
    } else {
      // No flush here: the next wave's write-ahead flush (or the final one) records this too, and a
      // crash in between only makes a resume re-check this wave's drones, which it does from the broker.
      state.currentWave = w + 1;
      deps.saver.request();
    }
  }
  if (state.phase === 'rolling-back') {
    if ((await runRestore(state, deps)) === 'aborted') return false;
    state.phase = 'done';
  }
  if (state.phase === 'halted') state.phase = 'done';
  state.result = resultOf(state);
  await deps.saver.flush();
  return true;
}

function countFailures(state: RolloutState, upToWave: number): number {
  let n = 0;
  for (let w = 0; w <= upToWave && w < state.waves.length; w++) {
    for (const d of state.waves[w]!.drones) if (isFailure(state.drones[d]!.state, state.dryRun)) n++;
  }
  return n;
}

function resultOf(state: RolloutState): RolloutState['result'] {
  const recs = Object.values(state.drones);
  if (state.rollback !== null && state.rollback.scope !== 'not-applied') {
    return recs.every((r) => r.rollback === null || isRestoredState(r.rollback.state)) ? 'rolled-back' : 'rollback-incomplete';
  }
  if (state.halt !== null) return 'halted';
  return recs.every((r) => r.state === 'skipped' || isSuccess(r.state, state.dryRun)) ? 'succeeded' : 'completed-with-failures';
}

async function runWave(state: RolloutState, w: number, deps: EngineDeps): Promise<'done' | 'aborted'> {
  const wave = state.waves[w]!;
  const cfg = state.config;
  const t0 = deps.now();
  deps.emit({ event: 'wave-start', wave: w, name: wave.name, drones: wave.drones });
  const droneEvent = (d: string, rec: DroneRecord) =>
    deps.emit({
      event: 'drone',
      phase: 'rollout',
      wave: wave.name,
      drone: d,
      state: rec.state,
      ack: rec.ack?.status ?? null,
      reason: rec.reason ?? describeAck(rec),
      elapsedMs: deps.now() - t0,
      ...(rec.params !== null ? { params: rec.params } : {}),
    });
  const expected = new Map<string, Expectation>();
  for (const d of wave.drones) {
    const rec = state.drones[d]!;
    if (isFinal(rec.state)) continue;
    if (rec.state === 'planned') {
      const status = deps.link.view(d).status;
      if (status === undefined || status.state === 'offline') {
        // Not sent: an unverified config must not land later, outside the canary's protection.
        rec.state = 'offline';
        rec.reason = status === undefined ? 'offline: the drone has never published a status' : 'offline';
        droneEvent(d, rec);
        continue;
      }
      rec.state = 'published';
      rec.publishedAt = new Date(deps.now()).toISOString();
    }
    expected.set(d, { version: cfg.version, sha256: cfg.sha256, correlation: correlationFor(state.rolloutId, d, cfg.version), acceptReported: !state.dryRun });
  }
  // Write-ahead: the state file names every drone of this wave before the first message leaves.
  await deps.saver.flush();
  const result = await watchDrones(
    deps.link,
    expected,
    async (pending) => {
      const send = [...pending].filter((d) => state.drones[d]!.state !== 'deferred');
      await Promise.all(send.map((d) => deps.link.publishDesired(d, cfg.jws, { retain: !state.dryRun, correlation: expected.get(d)!.correlation })));
      for (const d of send) droneEvent(d, state.drones[d]!);
    },
    {
      now: deps.now,
      deadlineMs: t0 + state.timeoutS * 1000,
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
      observe(d, obs) {
        const rec = state.drones[d]!;
        if (obs.via === 'ack') {
          rec.state = stateForAck(obs.ack.status);
          rec.ack = ackNote(obs.ack);
          rec.reason = ackReason(obs.ack);
          if (obs.ack.status === 'dry-run') rec.params = obs.ack.params;
        } else if (obs.via === 'reported') {
          rec.state = 'applied';
          rec.ack = reportedNote(obs.reported);
          rec.reason = null;
        } else {
          rec.reason = rec.state === 'deferred' ? 'still deferred at the timeout (vehicle armed?)' : 'no ack before the timeout';
          rec.state = 'timeout';
        }
        rec.elapsedMs = deps.now() - t0;
        droneEvent(d, rec);
        deps.saver.request();
        return isFinal(rec.state);
      },
    },
  );
  if (result === 'aborted') {
    await deps.saver.flush();
    return 'aborted';
  }
  return 'done';
}

/** A line for the REASON column when the ack gave none: how and how fast the drone answered. */
function describeAck(rec: DroneRecord): string | null {
  const a = rec.ack;
  if (a === null) return null;
  if (a.via === 'reported') return `${a.status} (its retained report says so)`;
  return a.totalMs === null || a.totalMs === undefined ? a.status : `${a.status} in ${(a.totalMs / 1000).toFixed(1)} s on the drone`;
}

/** Every drone's outcome in plan order (skipped ones last), with the ack that decided it. */
export function summaryRows(state: RolloutState): SummaryRow[] {
  const order = [...state.waves.flatMap((w) => w.drones), ...Object.keys(state.drones).filter((d) => state.drones[d]!.wave < 0)];
  return order.map((d) => {
    const r = state.drones[d]!;
    return {
      drone: d,
      wave: r.wave < 0 ? '-' : state.waves[r.wave]!.name,
      state: r.state,
      ack: r.ack,
      reason: r.reason ?? describeAck(r),
      elapsedMs: r.elapsedMs,
      rollback: r.rollback?.state ?? null,
      rollbackReason: r.rollback?.reason ?? null,
    };
  });
}
