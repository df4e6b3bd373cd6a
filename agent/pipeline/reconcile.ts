import { configToFcParams, type FcParam, type ParamResult } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { diffEntry } from './diff.js';
import { paramTypeName } from './param-types.js';
import type { FcPort, LockPort, StoredConfig, StorePort } from './ports.js';

export type ReconcileState = 'no-file' | 'corrupt' | 'in-sync' | 'repaired' | 'repair-failed' | 'drift-armed' | 'fc-unavailable';

export interface ReconcileResult {
  state: ReconcileState;
  drift: ParamResult[];
  current?: StoredConfig;
  reason?: string;
}

export interface ReconcileDeps {
  fc: FcPort;
  store: StorePort;
  lock: LockPort;
  logger: Logger;
  paramTimeoutMs?: number;
  paramRetries?: number;
  vehicleWaitMs?: number;
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Boot reconciliation: the aim file is the source of truth. Compare the FC's parameters with
 * it and push the file's values back where they drifted (a crash mid-apply, a GCS edit, an FC reset),
 * under the aim lock. When the vehicle is armed and the file asks for the disarmed window, only report.
 */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileResult> {
  const log = deps.logger.child({ component: 'reconcile' });
  let current: StoredConfig | undefined;
  try {
    current = await deps.store.readCurrent();
  } catch (err) {
    log.error({ err }, 'aim file is not a valid document');
    return { state: 'corrupt', drift: [], reason: err instanceof Error ? err.message : String(err) };
  }
  if (current === undefined) {
    log.info('no aim file yet; nothing to reconcile');
    return { state: 'no-file', drift: [] };
  }
  const wanted = configToFcParams(current.config);
  if (wanted.length === 0) return { state: 'in-sync', drift: [], current };
  try {
    await deps.fc.waitForVehicle({ timeoutMs: deps.vehicleWaitMs ?? 10_000, ...(deps.signal ? { signal: deps.signal } : {}) });
  } catch {
    log.warn('flight controller not reachable; reconciliation waits for its link');
    return { state: 'fc-unavailable', drift: [], current };
  }
  const read = async (wantedNow: FcParam[]) => {
    const values = await deps.fc.params.getMany(wantedNow.map((p) => p.name), {
      timeoutMs: deps.paramTimeoutMs ?? 1000,
      retries: deps.paramRetries ?? 3,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    return { values, drift: wantedNow.map((p) => diffEntry(p, values.get(p.name))).filter((d) => d.result !== 'unchanged') };
  };
  let first: Awaited<ReturnType<typeof read>>;
  try {
    first = await read(wanted);
  } catch (err) {
    log.warn({ err }, 'could not read FC parameters');
    return { state: 'fc-unavailable', drift: [], current };
  }
  if (first.drift.length === 0) {
    log.info({ version: current.config.version }, 'FC matches the aim file');
    return { state: 'in-sync', drift: [], current };
  }
  log.warn({ drift: first.drift }, 'FC parameters drifted from the aim file');
  if (deps.fc.vehicle?.armed !== false && current.config.apply?.when === 'disarmed') {
    return { state: 'drift-armed', drift: first.drift, current, reason: 'vehicle armed; the file asks for the disarmed window' };
  }
  const lock = await deps.lock.acquire({ timeoutMs: deps.lockTimeoutMs ?? 30_000, ...(deps.signal ? { signal: deps.signal } : {}) });
  try {
    // Read the file and the FC again under the lock: another writer (aim-agent apply) may have
    // committed a newer file meanwhile, and repairing towards the one read before would undo it.
    let now: StoredConfig | undefined;
    try {
      now = await deps.store.readCurrent();
    } catch (err) {
      log.error({ err }, 'aim file became invalid');
      return { state: 'corrupt', drift: [], reason: err instanceof Error ? err.message : String(err) };
    }
    if (now === undefined) return { state: 'no-file', drift: [] };
    if (now.sha256 !== current.sha256) log.info({ was: current.config.version, now: now.config.version }, 'the aim file changed while waiting for the lock; reconciling with the new one');
    current = now;
    const { values, drift } = await read(configToFcParams(current.config));
    const list = drift
      .filter((d) => d.result !== 'unknown')
      .map((d) => ({ name: d.name, value: d.want ?? 0, type: paramTypeName(values.get(d.name)?.type) }));
    const signal = lock.signal === undefined ? deps.signal : deps.signal === undefined ? lock.signal : AbortSignal.any([deps.signal, lock.signal]);
    const results = list.length === 0 ? [] : await deps.fc.params.setMany(list, { timeoutMs: deps.paramTimeoutMs ?? 1000, retries: deps.paramRetries ?? 3, force: true, ...(signal ? { signal } : {}) });
    const failed = results.filter((r) => r.result !== 'ok' && r.result !== 'unchanged');
    const unknown = drift.filter((d) => d.result === 'unknown');
    if (failed.length > 0 || unknown.length > 0) {
      log.error({ failed, unknown }, 'drift repair incomplete');
      return { state: 'repair-failed', drift, current, reason: [...failed.map((f) => `${f.name} ${f.result}`), ...unknown.map((u) => `${u.name} unknown`)].join(', ') };
    }
    if (drift.length === 0) {
      log.info({ version: current.config.version }, 'FC matches the aim file (changed meanwhile by another writer)');
      return { state: 'in-sync', drift: [], current };
    }
    log.warn({ repaired: results.length }, 'drift repaired: FC matches the aim file again');
    return { state: 'repaired', drift, current };
  } finally {
    await lock.release().catch((err: unknown) => log.warn({ err }, 'lock release failed'));
  }
}
