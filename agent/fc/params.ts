import type { ParamType } from '../../protocol/param-table.js';
import { AimError } from '../../protocol/errors.js';
import { describeLoss, judgeSilence } from './absence.js';
import type { Frame } from './framing.js';
import type { LinkCore } from './link-core.js';
import { ParamRequestRead, ParamValue, StatusText } from './messages.js';
import { OpScope } from './op-scope.js';
import { readParamValue } from './param-encoding.js';
import { runSetMany } from './param-set.js';

/** The outcome of one parameter in setMany: a result, not an exception (MAVSDK's habit). */
export type ParamOutcome = 'ok' | 'unchanged' | 'timeout' | 'unknown' | 'denied' | 'mismatch' | 'type-error';

export interface ParamSetResult {
  name: string;
  /** The value asked for, after the parameter's type rounding (what the FC must echo). */
  want: number;
  /** What the FC last said the value is; null when it said nothing. */
  got: number | null;
  result: ParamOutcome;
  /** Set (ok) but only takes effect after an FC reboot (`*_TYPE` enables); the agent never reboots the FC itself. */
  rebootRequired?: boolean;
  /** PARAM_SETs sent (0 for unchanged / type-error). */
  attempts: number;
  /** Why, for type-error / denied / unknown, in words for acks and logs. */
  reason?: string;
}

export interface ParamValueInfo {
  name: string;
  value: number;
  /** MAV_PARAM_TYPE as the FC reported it (may be wrong for never-saved ArduPilot params). */
  type: number;
}

/** One PARAM_VALUE as seen on the link. */
export interface ParamEcho extends ParamValueInfo {
  index: number;
  count: number;
  at: number;
}

/**
 * What one read came to: a value, proof of absence (silence through as many requests as the link's
 * measured loss needs, see absence.ts), or no answer on a link too lossy to tell.
 */
export type ReadOutcome =
  | { kind: 'value'; value: number; type: number }
  | { kind: 'absent'; requests: number }
  | { kind: 'unanswered'; requests: number };

export interface ParamReadOptions {
  /** Per-attempt wait (default: the client's, 1000 ms). */
  timeoutMs?: number;
  /** Requests at least before a silent name counts as absent (default 3); more on a lossy link, up to 10. */
  retries?: number;
  /** Reads in flight at once (default 10: ArduPilot queues 20 requests for all its links together). */
  window?: number;
  signal?: AbortSignal;
}

export interface ParamSetOptions {
  /** PARAM_SETs in flight at once (default 8 on serial, 20 on TCP/UDP: DEFAULT_SET_WINDOW, NETWORK_SET_WINDOW). */
  window?: number;
  /** Wait for the echo this long per attempt (default 1000 ms, as MAVProxy). */
  timeoutMs?: number;
  /** PARAM_SETs sent in total per parameter before giving up (default 3, as MAVProxy's mavset). */
  retries?: number;
  /** Whole-call deadline: parameters not settled by then end as `timeout`. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Send even when the FC already holds the value (skips the read-first `unchanged` check). */
  force?: boolean;
}

export interface ParamSetItem {
  name: string;
  value: number;
  type?: ParamType;
}

/**
 * Window of PARAM_SETs in flight. Eight, because:
 * - an ArduPilot MAVLink UART has a 512-byte RX ring (SERIALn asks 128, ChibiOS raises it to its
 *   HAL_UART_MIN_RX_SIZE of 512): 8 signed PARAM_SETs are 8 × 48 = 384 bytes, so a whole window fits even
 *   if the FC main loop stalls while it arrives;
 * - each set makes one 37-byte PARAM_VALUE that ArduPilot drops (no retry of its own) when its TX ring is
 *   full of telemetry; 8 echoes are ~300 bytes, well inside a 1 KiB TX ring shared with the streams;
 * - at 57600 baud an echo takes ~6.4 ms on the wire, and a radio link's round trip is ~40–60 ms, so 8 in
 *   flight keeps the pipe full; on TCP/USB the round trip is a few ms and any window ≥ 2 does.
 */
export const DEFAULT_SET_WINDOW = 8;
/**
 * Window on a TCP or UDP link, where no 512-byte UART ring sits in front of the FC (SITL, or an FC on
 * Ethernet): a 20-parameter config goes out in one round trip instead of three. Measured on SITL over
 * TCP (bench/fc-params --fc sitl): push 12.4 ms with 8, 6.1 ms with 20, raw back-to-back floor 6.0 ms.
 * Twenty 37-byte echoes are 740 bytes, inside a 1 KiB network-port buffer.
 */
export const NETWORK_SET_WINDOW = 20;
/** ArduPilot queues up to 20 PARAM_REQUEST_READs across all links and drops the rest: use half. */
export const DEFAULT_READ_WINDOW = 10;

export interface ParamClientDefaults {
  timeoutMs: number;
  retries: number;
  window: number;
  readWindow: number;
}

const DENIED_RE = /^Param write denied \(([A-Za-z0-9_]{1,16})\)/;

/**
 * Parameters over the MAVLink parameter protocol: pipelined reads, pipelined verified sets, and a cache
 * fed by every PARAM_VALUE the FC sends (echoes, reads, other GCSs' changes).
 */
export class ParamClient {
  private readonly cacheMap = new Map<string, { value: number; type: number; at: number; seenMono: number }>();
  private readonly waiters = new Map<string, Set<(echo: ParamEcho) => void>>();
  private readonly denialWaiters = new Set<(name: string) => void>();
  readonly defaults: ParamClientDefaults;

  constructor(
    private readonly core: LinkCore,
    defaults: Partial<ParamClientDefaults> = {},
  ) {
    this.defaults = {
      timeoutMs: defaults.timeoutMs ?? 1000,
      retries: defaults.retries ?? 3,
      window: defaults.window ?? DEFAULT_SET_WINDOW,
      readWindow: defaults.readWindow ?? DEFAULT_READ_WINDOW,
    };
    core.subscribe(ParamValue.MSG_ID, (f) => this.onParamValue(f));
    core.subscribe(StatusText.MSG_ID, (f) => this.onStatusText(f));
  }

  /** The last value the FC reported for `name`, from any PARAM_VALUE; `at` wall ms, `seenMono` performance.now() (for "seen since" checks). */
  cached(name: string): { value: number; type: number; at: number; seenMono: number } | undefined {
    return this.cacheMap.get(name);
  }

  /**
   * Read one parameter; undefined when the FC has no such parameter (ArduPilot stays silent).
   * AIM_ERR_FC_TIMEOUT when it stayed silent on a link too lossy for silence to prove absence.
   */
  async get(name: string, opts: ParamReadOptions = {}): Promise<ParamValueInfo | undefined> {
    const got = (await this.getMany([name], opts)).get(name);
    return got === undefined ? undefined : { name, ...got };
  }

  /**
   * Read several parameters with up to `window` requests in flight: undefined for the ones the FC has
   * not got. AIM_ERR_FC_TIMEOUT, naming them, when any got no answer and absence is not proven.
   */
  async getMany(names: readonly string[], opts: ParamReadOptions = {}): Promise<Map<string, { value: number; type: number } | undefined>> {
    const outcomes = await this.readMany(names, opts);
    const unanswered = [...outcomes].filter(([, o]) => o.kind === 'unanswered').map(([n]) => n);
    if (unanswered.length > 0) throw this.unansweredError(unanswered, outcomes);
    return new Map(names.map((n) => {
      const o = outcomes.get(n);
      return [n, o?.kind === 'value' ? { value: o.value, type: o.type } : undefined];
    }));
  }

  /** Read several parameters, each to a ReadOutcome (never throws for silence). */
  async readMany(names: readonly string[], opts: ParamReadOptions = {}): Promise<Map<string, ReadOutcome>> {
    const scope = new OpScope(this.core, 'param read', opts.signal);
    try {
      scope.check();
      const timeoutMs = opts.timeoutMs ?? this.defaults.timeoutMs;
      const retries = Math.max(1, opts.retries ?? this.defaults.retries);
      const found = new Map<string, ReadOutcome>();
      await pool([...new Set(names)], opts.window ?? this.defaults.readWindow, async (name) => {
        found.set(name, await this.readOne(scope, name, timeoutMs, retries));
      });
      return found;
    } finally {
      scope.dispose();
    }
  }

  /** @internal The AIM_ERR_FC_TIMEOUT for names that got no answer, with what the link showed. */
  unansweredError(names: readonly string[], outcomes?: ReadonlyMap<string, ReadOutcome>): AimError {
    const w = this.core.wire();
    const requests = names.map((n) => {
      const o = outcomes?.get(n);
      return o !== undefined && o.kind !== 'value' ? o.requests : this.defaults.retries;
    });
    return new AimError(
      'AIM_ERR_FC_TIMEOUT',
      `no answer from the flight controller for ${names.join(', ')} after ${Math.max(...requests)} requests; ${describeLoss(w)}, so silence does not prove the parameter is absent`,
      { details: { unanswered: [...names], ...w } },
    );
  }

  /** Set and verify each parameter (see ParamOutcome). Throws only AIM_ERR_ABORTED / AIM_ERR_FC_LINK. */
  setMany(list: readonly ParamSetItem[], opts: ParamSetOptions = {}): Promise<ParamSetResult[]> {
    return runSetMany(this, this.core, list, opts);
  }

  /**
   * @internal Read with retries inside a caller's scope: at least `retries` requests, then more while the
   * link's measured loss leaves silence unproven, up to MAX_REQUESTS (see absence.ts).
   */
  async readOne(scope: OpScope, name: string, timeoutMs: number, retries: number): Promise<ReadOutcome> {
    for (let i = 1; ; i++) {
      const echo = await this.nextEcho(scope, name, timeoutMs, () => this.sendRead(name));
      if (echo !== undefined) return { kind: 'value', value: echo.value, type: echo.type };
      const verdict = this.judgeSilence(retries, i);
      if (verdict !== 'again') return { kind: verdict, requests: i };
    }
  }

  /** @internal What `requests` unanswered requests mean on this link now (absence.ts). */
  judgeSilence(retries: number, requests: number): 'again' | 'absent' | 'unanswered' {
    return judgeSilence(this.core.wire(), retries, requests);
  }

  /** @internal Listen for PARAM_VALUEs of `name` (after calling it you send); returns unsubscribe. */
  listen(name: string, fn: (echo: ParamEcho) => void): () => void {
    let set = this.waiters.get(name);
    if (set === undefined) this.waiters.set(name, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.waiters.get(name) === set) this.waiters.delete(name);
    };
  }

  /** @internal Listen for ArduPilot's "Param write denied (NAME)". */
  listenDenied(fn: (name: string) => void): () => void {
    this.denialWaiters.add(fn);
    return () => this.denialWaiters.delete(fn);
  }

  /** Resolve with the first PARAM_VALUE for `name` after `send()`, or undefined after `ms`. */
  private nextEcho(scope: OpScope, name: string, ms: number, send: () => void): Promise<ParamEcho | undefined> {
    return new Promise((resolve, reject) => {
      const finish = (v: ParamEcho | undefined, err?: unknown) => {
        unsub();
        scope.clearTimer(timer);
        scope.signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(v);
      };
      const onAbort = () => finish(undefined, scope.signal.reason);
      const unsub = this.listen(name, (echo) => finish(echo));
      const timer = scope.setTimer(ms, () => finish(undefined));
      if (scope.signal.aborted) return onAbort();
      scope.signal.addEventListener('abort', onAbort, { once: true });
      send();
    });
  }

  private sendRead(name: string): void {
    const v = this.core.vehicle();
    const m = new ParamRequestRead();
    m.targetSystem = v?.systemId ?? 1;
    m.targetComponent = v?.componentId ?? 1;
    m.paramId = name;
    m.paramIndex = -1;
    this.core.send(m);
  }

  private onParamValue(frame: Frame): void {
    const pv = frame.decode(ParamValue);
    const value = readParamValue(frame.payload.subarray(0, 4), pv.paramType, this.core.encoding());
    const echo: ParamEcho = { name: pv.paramId, value, type: pv.paramType, index: pv.paramIndex, count: pv.paramCount, at: Date.now() };
    this.cacheMap.set(echo.name, { value, type: echo.type, at: echo.at, seenMono: performance.now() });
    const set = this.waiters.get(echo.name);
    if (set === undefined) return;
    this.core.noteAnswer();
    for (const fn of [...set]) fn(echo);
  }

  private onStatusText(frame: Frame): void {
    const m = DENIED_RE.exec(frame.decode(StatusText).text);
    if (m?.[1] !== undefined) for (const fn of [...this.denialWaiters]) fn(m[1]);
  }
}

/** Run `fn` over `items` with at most `width` at once; rejects with the first failure. */
export async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(width, items.length)) }, () => worker());
  const results = await Promise.allSettled(workers);
  const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}
