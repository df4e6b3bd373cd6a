import {
  configToAimCommand,
  configToFcParams,
  float32Display,
  isAimError,
  needsReboot,
  type AimConfig,
  type FcParam,
  type ParamResult,
  type Reported,
} from '../../protocol/index.js';
import { aimFailure } from '../fc/aim-outcome.js';
import { checkParamsFit, configPathOf } from '../fc/param-fit.js';
import type { Logger } from '../log.js';
import { windowOpen } from './apply-window.js';
import { diffEntry } from './diff.js';
import { linkDownReason, readFailure, signingTrouble } from './link-diagnosis.js';
import type { FcCache } from './fc-cache.js';
import type { Outcome } from './intake.js';
import { failure } from './outcome.js';
import { paramTypeName } from './param-types.js';
import { FreezeFence } from './freeze-fence.js';
import type { Clock, FcPort, LockHandlePort, StorePort, Timers } from './ports.js';
import { UndoLog } from './undo-log.js';

export interface Timing {
  /** Wait for one echo or read answer (per attempt). */
  paramTimeoutMs: number;
  /** Requests sent per parameter in total before it counts as unanswered. */
  paramRetries: number;
  aimTimeoutMs: number;
}

export interface TransactionContext {
  fc: FcPort;
  store: StorePort;
  clock: Clock;
  cache: FcCache;
  timing: Timing;
  /** True when the FC link is up, after a bounded wait for it. */
  linkUp(signal: AbortSignal): Promise<boolean>;
  /** With the lock's TTL, FC writes also stop when this process was frozen long enough to lose the lock (FreezeFence). */
  fence?: { timers: Timers; lockTtlMs: number };
}

export interface TransactionJob {
  config: AimConfig;
  sha256: string;
  /** Shutdown past its grace period. */
  signal: AbortSignal;
}

/** How the transaction ended: an ack to send (and what to report), or "armed again: wait for the window". */
export type TransactionResult = { outcome: Outcome; reported?: Reported; reconcile?: string } | { rearmed: true };

type Before = Map<string, { value: number; type: number } | undefined>;

/** What the stages did, for the compensation path: FC written, window closed again, lock lost. */
interface Flags {
  fcTouched: boolean;
  rearmed: boolean;
  fenced: boolean;
}

/** A stage failed: `outcome` is the ack without `rolledBack`, which the compensation path decides. */
class StageFailure extends Error {
  constructor(readonly outcome: Outcome) {
    super(outcome.reason ?? outcome.stage);
  }
}

/** Reads of `n` names: per attempt the parameter timeout, `paramRetries` attempts (reads are pipelined). */
export function readOptions(timing: Timing): { timeoutMs: number; retries: number } {
  return { timeoutMs: timing.paramTimeoutMs, retries: timing.paramRetries };
}

/**
 * The apply transaction, run under the aim lock: re-read the state, stage the file, read the FC, check
 * the window and expiry again, push and verify, aim, set a corrupt file aside, commit. Every stage that
 * changes something registers its undo right away; any failure runs them all once (UndoLog), and
 * `rolledBack` is true only when every FC value put back was verified by the FC.
 */
export async function applyTransaction(ctx: TransactionContext, job: TransactionJob, lock: LockHandlePort, log: Logger): Promise<TransactionResult> {
  const undo = new UndoLog(log);
  const flags: Flags = { fcTouched: false, rearmed: false, fenced: false };
  const lockLost = () => flags.fenced || lock.signal?.aborted === true;
  const fence = ctx.fence === undefined ? undefined : new FreezeFence(ctx.clock, ctx.fence.timers, ctx.fence.lockTtlMs);
  const signal = AbortSignal.any([job.signal, ...(lock.signal ? [lock.signal] : []), ...(fence ? [fence.signal] : [])]);
  const base = { lockToken: lock.token };
  try {
    const outcome = await stages(ctx, job, lock, log, undo, signal, flags);
    undo.discard();
    return outcome;
  } catch (err) {
    fence?.stop();
    const failed = err instanceof StageFailure ? err.outcome : failure('internal', err, base);
    const unwound = await undo.unwind();
    if (flags.rearmed) return { rearmed: true };
    if (failed.status !== 'failed') return { outcome: failed };
    if (unwound.ok) return { outcome: { ...failed, rolledBack: true } };
    const unknown = [...new Set(unwound.unknown)];
    const lost = lockLost() ? '; the aim lock was lost, so the FC was left to its new holder' : '';
    const outcome: Outcome = {
      ...failed,
      rolledBack: false,
      reason: `${failed.reason ?? ''}${lost}${unknown.length > 0 ? `; state unknown for ${unknown.join(', ')} (reconciliation scheduled)` : ''}`,
      errors: [...(failed.errors ?? []), ...unknown.map((name) => ({ path: `params.${name}`, message: 'state unknown: the rollback was not verified' }))],
    };
    return flags.fcTouched && unknown.length > 0 ? { outcome, reconcile: `rollback not verified for ${unknown.join(', ')}` } : { outcome };
  } finally {
    fence?.stop();
  }
}

async function stages(
  ctx: TransactionContext,
  job: TransactionJob,
  lock: LockHandlePort,
  log: Logger,
  undo: UndoLog,
  signal: AbortSignal,
  flags: Flags,
): Promise<TransactionResult> {
  const { config, sha256 } = job;
  const base = { lockToken: lock.token };
  const { fc, store, clock, timing } = ctx;

  // Re-read the state under the lock: another writer (aim-agent apply) may have moved it. A corrupt
  // file is no obstacle: this config replaces it and the corrupt one is kept aside.
  let applied: number | null = null;
  let corrupt = false;
  try {
    applied = (await store.readState()).appliedVersion;
  } catch (err) {
    if (!isAimError(err, 'AIM_ERR_STORE_CORRUPT')) throw new StageFailure(failure('state', err, base));
    corrupt = true;
  }
  if (applied !== null && config.version <= applied) {
    throw new StageFailure({ ...base, status: 'rejected', stage: 'version', code: 'AIM_ERR_STALE', reason: `version ${applied} was applied meanwhile`, errors: [{ path: 'version', message: `must be greater than ${applied}` }] });
  }
  // The window and the expiry are checked again here and right before the first FC write: a deferred
  // config may have waited for the disarm, then for the lock.
  const gate = () => {
    if (config.expiresAt !== undefined && Date.parse(config.expiresAt) <= clock.now()) {
      throw new StageFailure({ ...base, status: 'rejected', stage: 'expiry', code: 'AIM_ERR_EXPIRED', reason: `config expired at ${config.expiresAt} while waiting; nothing was changed`, errors: [{ path: 'expiresAt', message: `is in the past (now ${new Date(clock.now()).toISOString()})` }] });
    }
    if (!windowOpen(config, fc)) {
      flags.rearmed = true;
      throw new StageFailure({ ...base, status: 'deferred', stage: 'window', reason: 'vehicle armed again before the write' });
    }
  };
  gate();

  let staged: unknown;
  try {
    staged = await store.stage(config);
  } catch (err) {
    throw new StageFailure(failure('stage', err, base));
  }
  // Not about the FC: a staged file that cannot be removed (or that a failed commit consumed) is only a leftover for init().
  undo.add('remove the staged file', () => store.abort(staged).catch((err: unknown) => log.warn({ err }, 'could not remove the staged file')));

  if (!(await ctx.linkUp(signal))) {
    throw new StageFailure({ ...base, status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', reason: `${linkDownReason(fc.status())}; nothing was changed` });
  }
  const wanted = configToFcParams(config);
  const tPush = clock.monotonic();
  // With every value cached since the link came up the read is skipped and every parameter is set
  // (not only the changed ones): each set is verified by its echo, so a cache that missed a frame can
  // never turn into a skipped parameter.
  const fromCache = ctx.cache.values(wanted);
  let before: Before;
  if (fromCache !== undefined) {
    before = fromCache;
  } else {
    try {
      before = await fc.params.getMany(wanted.map((p) => p.name), { ...readOptions(timing), signal });
    } catch (err) {
      throw new StageFailure(readFailure(err, fc.status(), base));
    }
  }
  const diff = wanted.map((p) => diffEntry(p, before.get(p.name)));
  const unknown = diff.filter((d) => d.result === 'unknown');
  if (unknown.length > 0) {
    // Unanswered because the FC drops our unsigned frames: a link problem, not missing parameters.
    const signing = signingTrouble(fc.status());
    if (signing !== undefined) throw new StageFailure({ ...base, status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', reason: `${signing}; nothing was changed`, params: diff });
    throw new StageFailure({ ...base, status: 'failed', stage: 'read', code: 'AIM_ERR_FC_REJECTED', reason: `the flight controller has no parameter ${unknown.map((u) => u.name).join(', ')}; nothing was changed`, params: diff });
  }
  // Nothing is written before every value is known to fit its type on the FC: ArduPilot saturates silently.
  const fit = checkParamsFit(wanted.map((p) => ({ ...p, type: p.type ?? paramTypeName(before.get(p.name)?.type) })), (n) => configPathOf(config, n));
  if (!fit.ok) {
    throw new StageFailure({ ...base, status: 'rejected', stage: 'validate', code: 'AIM_ERR_INVALID', reason: `${fit.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}; nothing was changed`, errors: fit.errors });
  }
  const toSet = wanted
    .filter((_, i) => fromCache !== undefined || diff[i]!.result !== 'unchanged')
    .map((p) => ({ name: p.name, value: p.value, type: p.type ?? paramTypeName(before.get(p.name)?.type) }));
  log.info({ params: wanted.length, changes: diff.filter((d) => d.result !== 'unchanged').length, source: fromCache ? 'cache' : 'read' }, 'stage read: FC parameters known');

  gate();
  let results: Awaited<ReturnType<FcPort['params']['setMany']>> = [];
  if (toSet.length > 0) {
    // Registered before the first PARAM_SET: from here on any of them may have been written.
    flags.fcTouched = true;
    undo.add('restore the FC parameters', () => restore(ctx, toSet.map((p) => p.name), before, lock, flags, log));
    try {
      results = await fc.params.setMany(toSet, { timeoutMs: timing.paramTimeoutMs, retries: timing.paramRetries, force: true, signal });
    } catch (err) {
      // Say why the push stopped: the lock was lost, or the process was frozen past the lock's TTL.
      const why = lock.signal?.aborted === true ? lock.signal.reason : signal.aborted && !job.signal.aborted ? signal.reason : undefined;
      throw new StageFailure(failure('push', why ?? err, { ...base, params: diff, pushMs: clock.monotonic() - tPush }));
    }
  }
  const params = pushedParams(diff, results);
  const pushMs = clock.monotonic() - tPush;
  const bad = results.filter((r) => r.result !== 'ok' && r.result !== 'unchanged');
  if (bad.length > 0) {
    log.error({ bad }, 'stage push: verification failed, rolling back');
    const code = bad.some((b) => b.result === 'timeout') ? 'AIM_ERR_FC_TIMEOUT' : bad.some((b) => b.result === 'mismatch') ? 'AIM_ERR_FC_VERIFY' : 'AIM_ERR_FC_REJECTED';
    throw new StageFailure({ ...base, status: 'failed', stage: 'push', code, reason: `${bad.length} parameter(s) not verified: ${bad.map((b) => `${b.name} ${b.result}`).join(', ')}`, params, pushMs });
  }
  log.info({ set: toSet.length }, 'stage push: every parameter verified');

  let aim: { result: string; via?: string } | null = null;
  const cmd = configToAimCommand(config);
  if (cmd !== undefined) {
    const aimOpts = { timeoutMs: timing.aimTimeoutMs, signal };
    try {
      const r = cmd.kind === 'roi' ? await fc.gimbal.roi(cmd, aimOpts) : await fc.gimbal.point(cmd, aimOpts);
      aim = { result: r.result, ...(typeof r.via === 'string' ? { via: r.via } : {}) };
    } catch (err) {
      aim = { result: isAimError(err) ? err.code : 'error' };
    }
    if (aim.result !== 'accepted') {
      throw new StageFailure({ ...base, status: 'failed', stage: 'aim', ...aimFailure(aim.result), params, aim, pushMs });
    }
    log.info({ aim: aim.result }, 'stage aim: accepted');
  }

  const extra = { ...base, params, aim, pushMs };
  let keptAs: string | undefined;
  if (corrupt) {
    try {
      keptAs = await store.setAsideCorrupt(lock);
    } catch (err) {
      throw new StageFailure(failure('commit', err, extra));
    }
    if (keptAs !== undefined) {
      const name = keptAs;
      undo.add('put the corrupt aim file back', () => store.restoreCorrupt(name));
    }
  }
  const appliedAt = new Date(clock.now()).toISOString();
  try {
    await store.commit(staged, lock, { appliedAt });
  } catch (err) {
    // Another writer owns the aim now: touching the FC again (a rollback) would fight it.
    if (isAimError(err, 'AIM_ERR_FENCED') || isAimError(err, 'AIM_ERR_LOCK_LOST')) flags.fenced = true;
    throw new StageFailure(failure('commit', err, extra));
  }
  undo.discard(); // the staged file is consumed; nothing is to be undone any more
  log.info({ appliedAt, keptAs }, 'stage commit: aim file swapped');
  const reboot = params.filter((p) => p.rebootRequired && p.result === 'ok').map((p) => p.name);
  const notes = [
    keptAs !== undefined ? `replaced a corrupt aim file (kept as ${keptAs})` : '',
    reboot.length > 0 ? `${reboot.join(', ')} take effect after a flight-controller reboot` : '',
  ].filter(Boolean);
  return {
    outcome: { ...extra, status: 'applied', stage: 'done', reason: notes.length > 0 ? `applied; ${notes.join('; ')}` : null },
    reported: { version: config.version, id: config.id, sha256, appliedAt, fc: { verified: true, drift: [] } },
  };
}

function pushedParams(diff: ParamResult[], results: Awaited<ReturnType<FcPort['params']['setMany']>>): ParamResult[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  return diff.map((d) => {
    const r = byName.get(d.name);
    if (r === undefined) return d;
    const entry: ParamResult = { name: d.name, want: d.want, got: r.got === null ? null : float32Display(r.got), result: r.result };
    if (r.rebootRequired || needsReboot(d.name)) entry.rebootRequired = true;
    return entry;
  });
}

/**
 * Put the FC back on the values read before the push. A value counts as restored only when the FC
 * confirmed it (`ok`: its echo, or a read of it, carried the value); anything else is unknown. A lost
 * lock means another writer owns the FC now: nothing is sent, and every value is unknown.
 */
async function restore(ctx: TransactionContext, names: string[], before: Before, lock: LockHandlePort, flags: Flags, log: Logger): Promise<{ ok: boolean; unknown: string[] }> {
  const list: FcParam[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const b = before.get(name);
    if (b === undefined) unknown.push(name);
    else list.push({ name, value: b.value, type: paramTypeName(b.type) });
  }
  // A rollback writes the FC too: only while the lock is ours, checked on disk (after a freeze it may not be).
  let held = !flags.fenced && lock.signal?.aborted !== true;
  if (held) held = await lock.assertHeld().then(() => true, () => false);
  if (!held) {
    flags.fenced = true;
    log.error({ params: names }, 'rollback skipped: the aim lock was lost, another writer owns the FC');
    return { ok: false, unknown: names };
  }
  if (list.length === 0) return { ok: unknown.length === 0, unknown };
  if (ctx.fc.status().state !== 'up') {
    log.error({ params: names }, 'rollback impossible: FC link is down; reconciliation repairs drift when it returns');
    return { ok: false, unknown: names };
  }
  const signal = lock.signal === undefined ? AbortSignal.timeout(15_000) : AbortSignal.any([AbortSignal.timeout(15_000), lock.signal]);
  try {
    const results = await ctx.fc.params.setMany(list, { timeoutMs: ctx.timing.paramTimeoutMs, retries: ctx.timing.paramRetries, force: true, signal });
    // A denial whose echo carries the old value (a read-only parameter the push never changed) holds it.
    const verified = new Set(results.filter((r) => r.result === 'ok' || (r.result === 'denied' && r.got === r.want)).map((r) => r.name));
    for (const p of list) if (!verified.has(p.name)) unknown.push(p.name);
    const ok = unknown.length === 0;
    log[ok ? 'warn' : 'error']({ restored: verified.size, unknown }, ok ? 'rollback verified' : 'rollback incomplete');
    return { ok, unknown };
  } catch (err) {
    log.error({ err }, 'rollback failed');
    return { ok: false, unknown: names };
  }
}
