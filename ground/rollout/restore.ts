import { validateAimConfig } from '../../protocol/index.js';
import { correlationFor } from '../fleet-link.js';
import { ackReason } from './ack-note.js';
import type { EngineDeps } from './engine.js';
import { isRestoredState, isRollbackFinal, needsRestore, rollbackStateForAck } from './outcome.js';
import { rollbackConfig } from './rollback-config.js';
import type { DroneRecord, RolloutState } from './state.js';
import { watchDrones, type Expectation } from './watch.js';

export type RestoreScope = 'all-sent' | 'not-applied';

/** Record the restore with the halt (before anything is published), so a resume knows what to finish. */
export function planRestore(state: RolloutState, scope: RestoreScope): void {
  state.rollback ??= { version: state.config.version + 1, configs: {}, scope };
  state.rollback.scope ??= scope;
  state.phase = 'rolling-back';
}

const isOffline = (deps: EngineDeps, d: string) => {
  const s = deps.link.view(d).status;
  return s === undefined || s.state === 'offline';
};

/**
 * After a halt: every drone that was sent the halted config (per the scope) ends with a retained desired
 * the operator chose: its previous config re-issued under a version above the halted one, or, when it
 * had none, the desired topic cleared (agents cancel a queued or deferred job for it). The state file
 * names each drone's action before the first message leaves; a resume re-publishes what is not final
 * (the agents answer `duplicate` to what they already have). Drones offline now get the retained desired
 * and are listed as `queued`: their final state is known only once they come back.
 */
export async function runRestore(state: RolloutState, deps: EngineDeps): Promise<'done' | 'aborted'> {
  const rb = state.rollback!;
  const scope: RestoreScope = rb.scope ?? 'all-sent';
  const cfg = state.config;
  const targets = Object.keys(state.drones).filter((d) => {
    const rec = state.drones[d]!;
    return needsRestore(rec, scope) && (rec.rollback === null || !isRollbackFinal(rec.rollback.state));
  });
  const now = new Date(deps.now());
  for (const d of targets) {
    const key = state.drones[d]!.previousKey;
    if (key === null || rb.configs[key] !== undefined) continue;
    const r = validateAimConfig(state.previousConfigs[key]);
    if (r.ok) rb.configs[key] = deps.sign(rollbackConfig(r.config, rb.version, now));
  }
  deps.emit({ event: 'rollback-start', version: rb.version, drones: targets, scope });
  const t0 = deps.now();
  const droneEvent = (d: string, rec: DroneRecord) =>
    deps.emit({ event: 'drone', phase: 'rollback', wave: 'rollback', drone: d, state: rec.rollback!.state, ack: null, reason: rec.rollback!.reason, elapsedMs: deps.now() - t0 });
  const expected = new Map<string, Expectation>();
  const immediate: string[] = [];
  for (const d of targets) {
    const rec = state.drones[d]!;
    const signed = rec.previousKey === null ? undefined : rb.configs[rec.previousKey];
    const action = signed === undefined ? 'clear' : 'reissue';
    rec.rollback = { state: rec.rollback?.state ?? 'published', action, reason: null, sha256: signed?.sha256 ?? null, elapsedMs: null };
    if (action === 'reissue') {
      if (isOffline(deps, d)) immediate.push(d);
      else expected.set(d, { version: rb.version, sha256: signed!.sha256, correlation: correlationFor(`${state.rolloutId}-rollback`, d, rb.version), acceptReported: true });
    } else if (rec.state === 'published' || rec.state === 'deferred' || rec.state === 'timeout') {
      // The drone may still hold the halted config as a queued or deferred job: its `superseded` ack
      // (on the original response topic, with the original correlation) says the withdrawal reached it.
      if (isOffline(deps, d)) immediate.push(d);
      else expected.set(d, { version: cfg.version, sha256: cfg.sha256, correlation: correlationFor(state.rolloutId, d, cfg.version), acceptReported: false });
    } else immediate.push(d);
  }
  // Write-ahead: the halt, the scope and every drone's action are on disk before anything is published.
  await deps.saver.flush();
  await deps.failpoint?.('restore-recorded');
  const publish = (d: string) => {
    const rec = state.drones[d]!;
    return rec.rollback!.action === 'clear' ? deps.link.clearDesired(d) : deps.link.publishDesired(d, rb.configs[rec.previousKey!]!.jws, { retain: true, correlation: correlationFor(`${state.rolloutId}-rollback`, d, rb.version) });
  };
  await Promise.all(
    immediate.map(async (d) => {
      await publish(d);
      const r = state.drones[d]!.rollback!;
      if (isOffline(deps, d)) {
        r.state = 'queued';
        r.reason = `offline: ${r.action === 'clear' ? 'desired cleared' : `version ${rb.version} retained`}; applies when it reconnects`;
      } else {
        r.state = 'cleared';
        r.reason = 'desired cleared (the drone had no previous config)';
      }
      r.elapsedMs = deps.now() - t0;
      droneEvent(d, state.drones[d]!);
    }),
  );
  deps.saver.request();
  const result = await watchDrones(
    deps.link,
    expected,
    async (pending) => {
      const send = [...pending].filter((d) => state.drones[d]!.rollback?.state !== 'deferred');
      await Promise.all(send.map(publish));
      for (const d of send) droneEvent(d, state.drones[d]!);
    },
    {
      now: deps.now,
      deadlineMs: t0 + state.timeoutS * 1000,
      ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
      observe(d, obs) {
        const r = state.drones[d]!.rollback!;
        if (r.action === 'clear') {
          if (obs.via === 'ack' && obs.ack.status === 'deferred') return false;
          if (obs.via === 'ack') {
            r.state = 'cleared';
            r.reason = obs.ack.status === 'superseded' ? `desired cleared; the drone dropped its job (${ackReason(obs.ack) ?? 'superseded'})` : `desired cleared after the drone answered ${obs.ack.status}`;
          } else {
            r.state = 'timeout';
            r.reason = 'desired cleared; no answer from the drone before the timeout';
          }
        } else if (obs.via === 'ack') {
          r.state = rollbackStateForAck(obs.ack.status);
          r.reason = ackReason(obs.ack) ?? `version ${rb.version} ${obs.ack.status} in ${(obs.ack.timings.totalMs / 1000).toFixed(1)} s on the drone`;
        } else if (obs.via === 'reported') {
          r.state = 'restored';
          r.reason = `version ${rb.version} applied (its retained report says so)`;
        } else {
          r.reason = r.state === 'deferred' ? 'still deferred at the timeout (vehicle armed?)' : 'no ack before the timeout';
          r.state = 'timeout';
        }
        r.elapsedMs = deps.now() - t0;
        droneEvent(d, state.drones[d]!);
        deps.saver.request();
        return isRollbackFinal(r.state);
      },
    },
  );
  await deps.saver.flush();
  if (result === 'aborted') return 'aborted';
  const recs = targets.map((d) => state.drones[d]!.rollback!);
  deps.emit({ event: 'rollback-end', restored: recs.filter((r) => isRestoredState(r.state)).length, failed: recs.filter((r) => !isRestoredState(r.state)).length });
  return 'done';
}

/**
 * Drones whose final state is not known: sent something they have not answered (no ack, deferred,
 * queued while offline), or offline and never sent anything (they run whatever they had).
 */
export function unknownFinal(state: RolloutState): { drone: string; why: string }[] {
  const out: { drone: string; why: string }[] = [];
  for (const w of state.waves) {
    for (const d of w.drones) {
      const rec = state.drones[d]!;
      const r = rec.rollback;
      if (r !== null) {
        if (r.state === 'published' || r.state === 'deferred' || r.state === 'timeout' || r.state === 'queued' || r.state === 'no-previous') out.push({ drone: d, why: `${r.state}: ${r.reason ?? 'no answer yet'}` });
      } else if (rec.state === 'published' || rec.state === 'deferred' || rec.state === 'timeout' || rec.state === 'offline') {
        out.push({ drone: d, why: `${rec.state}: ${rec.reason ?? 'no answer yet'}` });
      }
    }
  }
  return out;
}
