import { needsReboot, paramSpec, type ParamType } from '../../protocol/param-table.js';
import { isAimError } from '../../protocol/errors.js';
import type { LinkCore } from './link-core.js';
import { ParamSet } from './messages.js';
import { OpScope } from './op-scope.js';
import {
  expectedValue,
  mavParamType,
  paramTypeError,
  paramTypeFromMav,
  sameParamValue,
  writeParamValue,
  type ParamEncoding,
} from './param-encoding.js';
import type { ParamClient, ParamEcho, ParamOutcome, ParamSetItem, ParamSetOptions, ParamSetResult, ReadOutcome } from './params.js';

interface Entry {
  name: string;
  value: number;
  type: ParamType | undefined;
  want: number;
  /** The value before we started (read first, or from the cache when forced). */
  old: number | undefined;
  /** The read-first proved the name absent (silence through enough requests for the link's loss). */
  readMissing: boolean;
  /** Compare echoes bit-exact (bytewise integers) rather than as float32. */
  exact: boolean;
  result?: ParamSetResult;
}

interface InFlight {
  e: Entry;
  attempts: number;
  timer: unknown;
  /** An echo of the old value since the latest send: stale, a vector sibling, or a refusal. */
  oldSinceSend: boolean;
  lastEcho: number | undefined;
  verifying: boolean;
  done: boolean;
  unlisten: () => void;
}

const NAME_RE = /^[\x21-\x7e]{1,16}$/;

/**
 * setMany: read first (pipelined) to learn types and skip unchanged values, range-check integers, then
 * keep up to `window` PARAM_SETs in flight, each verified by a PARAM_VALUE for its name that arrives
 * after it was sent and carries the wanted value. Any other echo (a stale one from the buffer, a vector
 * parameter's sibling, ArduPilot's answer to a read-only write) is never success: the set is sent again.
 * When the attempts are spent, one read by name decides between ok (the echo was lost), denied (the FC
 * kept answering with its old value), timeout, mismatch (it holds another value) and unknown (silence).
 * ArduPilot's "Param write denied" STATUSTEXT decides `denied` at once.
 */
export async function runSetMany(client: ParamClient, core: LinkCore, list: readonly ParamSetItem[], opts: ParamSetOptions): Promise<ParamSetResult[]> {
  const d = client.defaults;
  const timeoutMs = opts.timeoutMs ?? d.timeoutMs;
  const retries = Math.max(1, opts.retries ?? d.retries);
  const window = Math.max(1, opts.window ?? d.window);
  const force = opts.force === true;
  const scope = new OpScope(core, 'param set', opts.signal);
  // The whole-call deadline ends the read-first too; whatever is unsettled then is a `timeout`.
  const deadline = new AbortController();
  if (opts.deadlineMs !== undefined) scope.setTimer(opts.deadlineMs, () => deadline.abort());
  const until = AbortSignal.any([scope.signal, deadline.signal]);
  try {
    scope.check();
    const encoding = await core.encodingSettled(scope.signal);
    const entries: Entry[] = list.map((p) => ({
      name: p.name,
      value: p.value,
      type: p.type ?? paramSpec(p.name)?.type,
      want: Number.NaN,
      old: undefined,
      readMissing: false,
      exact: false,
    }));

    // Read first: always when not forced (to report `unchanged`), and when forced only where we need the type.
    const toRead = entries.filter((e) => NAME_RE.test(e.name) && (!force || e.type === undefined)).map((e) => e.name);
    let reads = new Map<string, ReadOutcome>();
    if (toRead.length > 0) {
      try {
        reads = await client.readMany(toRead, { window: d.readWindow, timeoutMs, retries, signal: until });
      } catch (err) {
        scope.check(); // our own reason (link down, caller abort) wins over the inner call's echo of it
        if (!deadline.signal.aborted) throw err;
        return entries.map((e) => ({ name: e.name, want: e.value, got: null, result: 'timeout', attempts: 0, reason: 'whole-call deadline' }));
      }
    }

    for (const e of entries) {
      const outcome = reads.get(e.name);
      const read = outcome?.kind === 'value' ? outcome : undefined;
      if (outcome?.kind === 'unanswered') {
        e.result = { name: e.name, want: e.value, got: null, result: 'timeout', attempts: 0, reason: client.unansweredError([e.name], reads).message };
        continue;
      }
      if (read !== undefined) {
        e.old = read.value;
        e.type ??= paramTypeFromMav(read.type);
      } else {
        e.readMissing = outcome?.kind === 'absent';
        if (force) e.old = client.cached(e.name)?.value;
      }
      const why = NAME_RE.test(e.name) ? paramTypeError(e.value, e.type, encoding) : `"${e.name}" is not a MAVLink parameter name`;
      if (why !== undefined) {
        e.result = { name: e.name, want: e.value, got: e.old ?? null, result: 'type-error', attempts: 0, reason: why };
        continue;
      }
      e.want = expectedValue(e.value, e.type, encoding);
      e.exact = encoding === 'bytewise' && e.type !== undefined && e.type !== 'REAL32';
      if (!force && read !== undefined && sameParamValue(read.value, e.want, e.exact)) {
        e.result = { name: e.name, want: e.want, got: read.value, result: 'unchanged', attempts: 0 };
      }
    }

    await sendAll(client, core, scope, entries.filter((e) => e.result === undefined), { timeoutMs, retries, window, encoding, deadline: deadline.signal });
    return entries.map((e) => e.result ?? { name: e.name, want: e.want, got: null, result: 'timeout', attempts: 0 });
  } finally {
    scope.dispose();
  }
}

function sendAll(
  client: ParamClient,
  core: LinkCore,
  scope: OpScope,
  pending: Entry[],
  o: { timeoutMs: number; retries: number; window: number; encoding: ParamEncoding; deadline: AbortSignal },
): Promise<void> {
  const queue = [...pending];
  const inflight = new Map<string, InFlight>();
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const end = (err?: unknown) => {
      if (settled) return;
      settled = true;
      for (const s of inflight.values()) {
        s.unlisten();
        scope.clearTimer(s.timer);
      }
      unlistenDenied();
      scope.signal.removeEventListener('abort', onAbort);
      o.deadline.removeEventListener('abort', onDeadline);
      if (err !== undefined) reject(err);
      else resolve();
    };
    const onAbort = () => end(scope.signal.reason);

    const finish = (s: InFlight, result: ParamOutcome, got: number | null, reason?: string) => {
      if (s.done) return;
      s.done = true;
      s.unlisten();
      scope.clearTimer(s.timer);
      inflight.delete(s.e.name);
      s.e.result = { name: s.e.name, want: s.e.want, got, result, attempts: s.attempts };
      if (reason !== undefined) s.e.result.reason = reason;
      if (result === 'ok' && needsReboot(s.e.name)) s.e.result.rebootRequired = true;
      pump();
    };

    const transmit = (s: InFlight) => {
      s.attempts++;
      s.oldSinceSend = false;
      const v = core.vehicle();
      const m = new ParamSet();
      m.targetSystem = v?.systemId ?? 1;
      m.targetComponent = v?.componentId ?? 1;
      m.paramId = s.e.name;
      m.paramType = mavParamType(s.e.type);
      m.paramValue = s.e.want;
      // Bytewise integers must be written bit-exact: a float round trip could canonicalise a NaN pattern.
      core.send(m, o.encoding === 'bytewise' ? (payload) => writeParamValue(payload, s.e.value, s.e.type, o.encoding) : undefined);
      s.timer = scope.setTimer(o.timeoutMs, () => onTimeout(s));
    };

    const onEcho = (s: InFlight, echo: ParamEcho) => {
      // While verifying, the answer to our own read is the read's to judge: it is no answer to a set.
      if (s.done || s.verifying) return;
      s.lastEcho = echo.value;
      if (sameParamValue(echo.value, s.e.want, s.e.exact)) return finish(s, 'ok', echo.value);
      if (s.e.old !== undefined && sameParamValue(echo.value, s.e.old, s.e.exact)) s.oldSinceSend = true;
    };

    const onTimeout = (s: InFlight) => {
      s.timer = undefined;
      if (s.done) return;
      // Any echo that was not the wanted value may be a stale one or a vector sibling: send again, and on a
      // lossy link as often as it takes for silence to mean something (absence.ts).
      // On a lossy link, more: an echo of the old value may be a late answer to a read rather than the FC
      // hearing this set, and an FC's own parser can swallow several frames behind one corrupted header
      // (ArduPilot's, like node-mavlink's, waits for the length a header claims before it checks the CRC).
      if (s.attempts < o.retries || client.judgeSilence(o.retries, s.attempts) === 'again') return transmit(s);
      if (s.e.readMissing && s.lastEcho === undefined) return finish(s, 'unknown', null, 'no PARAM_VALUE for this name, to reads or sets');
      // Out of attempts: a read by name says what the FC holds now (a lost echo of a good set is still a good set).
      s.verifying = true;
      pump();
      client.readOne(scope, s.e.name, o.timeoutMs, o.retries).then(
        (r) => {
          if (r.kind === 'unanswered') {
            finish(s, 'timeout', s.lastEcho ?? null, client.unansweredError([s.e.name]).message);
          } else if (r.kind === 'absent') {
            if (s.lastEcho === undefined) finish(s, 'unknown', null, 'no PARAM_VALUE for this name, to reads or sets');
            else finish(s, 'timeout', s.lastEcho, 'no echo with the wanted value, and no answer to the read');
          } else if (sameParamValue(r.value, s.e.want, s.e.exact)) finish(s, 'ok', r.value);
          else if (s.e.old !== undefined && sameParamValue(r.value, s.e.old, s.e.exact)) {
            if (s.oldSinceSend) finish(s, 'denied', r.value, 'the FC answered every set with its old value');
            else finish(s, 'timeout', r.value, 'no echo; the FC still holds the old value');
          } else finish(s, 'mismatch', r.value, `the FC holds ${r.value}`);
        },
        (err: unknown) => {
          if (!isAimError(err)) end(err);
          // Aborts reach us through the scope's own abort listener.
        },
      );
    };

    const start = (e: Entry) => {
      const s: InFlight = { e, attempts: 0, timer: undefined, oldSinceSend: false, lastEcho: undefined, verifying: false, done: false, unlisten: () => undefined };
      inflight.set(e.name, s);
      s.unlisten = client.listen(e.name, (echo) => onEcho(s, echo));
      transmit(s);
    };

    const pump = () => {
      if (settled) return;
      // A parameter whose sets all went unanswered waits for its verifying read outside the window.
      const sending = () => [...inflight.values()].filter((s) => !s.verifying).length;
      while (sending() < o.window) {
        // Two entries for one name never fly together: their echoes could not be told apart.
        const i = queue.findIndex((e) => !inflight.has(e.name));
        if (i < 0) break;
        start(queue.splice(i, 1)[0] as Entry);
      }
      if (inflight.size === 0 && queue.length === 0) end();
    };

    const unlistenDenied = client.listenDenied((name) => {
      const s = inflight.get(name);
      if (s !== undefined) finish(s, 'denied', s.lastEcho ?? s.e.old ?? null, `Param write denied (${name})`);
    });
    const onDeadline = () => {
      for (const s of [...inflight.values()]) {
        s.done = true;
        s.e.result = { name: s.e.name, want: s.e.want, got: s.lastEcho ?? null, result: 'timeout', attempts: s.attempts, reason: 'whole-call deadline' };
      }
      for (const e of queue.splice(0)) {
        e.result = { name: e.name, want: e.want, got: null, result: 'timeout', attempts: 0, reason: 'whole-call deadline' };
      }
      end();
    };
    if (scope.signal.aborted) return onAbort();
    if (o.deadline.aborted) return onDeadline();
    scope.signal.addEventListener('abort', onAbort, { once: true });
    o.deadline.addEventListener('abort', onDeadline, { once: true });
    pump();
  });
}
