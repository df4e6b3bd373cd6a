import type { common, MavLinkData } from 'node-mavlink';
import type { Channel } from './channel.js';
import type { Clock } from './clock.js';
import { paramValue, SEVERITY, statusText } from './messages.js';
import type { ParamEcho, ParamStore } from './param-store.js';

/** param_index of a PARAM_VALUE that answers by name (ArduPilot sends -1 as uint16). */
export const INDEX_BY_NAME = 65535;
/** ArduPilot's queue of pending PARAM_REQUEST_READs (GCS_Param.cpp `param_requests(20)`); more are dropped. */
export const READ_QUEUE_DEPTH = 20;

/**
 * Without `readLatencyMs`, PARAM_REQUEST_READs are answered as SITL answers them (measured): they wait
 * in the queue for a 100 ms tick, which answers up to 5, so one read takes 0–100 ms (37–86 ms seen)
 * and 20 sent together arrive in four batches of 5, ~100 ms apart (~350 ms for all 20).
 */
export const READ_TICK_MS = 100;
export const READS_PER_TICK = 5;

const LIST_TICK_MS = 10;
/**
 * List entries per 10 ms while the link has room: SITL over TCP sends all 1373 in ~700 ms (~2000/s,
 * measured), so 20 per tick. On a paced serial link the drain check below is what limits it.
 */
const LIST_BURST = 20;

export interface ParamServerOptions {
  store: ParamStore;
  clock: Clock;
  /** Answer each PARAM_REQUEST_READ after this fixed delay (tests); undefined: ArduPilot's queue and tick. */
  readLatencyMs: number | undefined;
  /** Send to every channel (PARAM_VALUE echoes and STATUSTEXT go to all active links). */
  broadcast: (msg: MavLinkData) => void;
  onSet: (name: string, value: number) => void;
  banner: readonly string[];
}

/** PARAM_SET / PARAM_REQUEST_READ / PARAM_REQUEST_LIST as ArduPilot's GCS_Param.cpp answers them. */
export class ParamServer {
  private readonly o: ParamServerOptions;
  private readonly pendingReads = new Set<unknown>();
  private readonly readQueue: { ch: Channel; index: number; name: string }[] = [];
  private readTimer: unknown = undefined;
  private readonly epoch: number;
  private readonly lists = new Map<Channel, unknown>();

  constructor(o: ParamServerOptions) {
    this.o = o;
    this.epoch = o.clock.now();
  }

  set readLatencyMs(ms: number | undefined) {
    this.o.readLatencyMs = ms;
  }

  handleSet(ch: Channel, m: common.ParamSet): void {
    const outcome = this.o.store.set(m.paramId, m.paramValue);
    switch (outcome.kind) {
      case 'silent':
        return;
      case 'denied':
        this.o.broadcast(statusText(SEVERITY.WARNING, `Param write denied (${m.paramId})`));
        ch.send(this.valueMsg(outcome.echo, INDEX_BY_NAME));
        return;
      case 'stored':
        for (const echo of outcome.echoes) this.o.broadcast(this.valueMsg(echo, INDEX_BY_NAME));
        this.o.onSet(outcome.name, outcome.value);
    }
  }

  handleRead(ch: Channel, m: common.ParamRequestRead): void {
    if (this.pendingReads.size + this.readQueue.length >= READ_QUEUE_DEPTH) return;
    const index = m.paramIndex;
    const name = m.paramId;
    const latency = this.o.readLatencyMs;
    if (latency === undefined) {
      this.readQueue.push({ ch, index, name });
      this.armReadTick();
      return;
    }
    const timer = this.o.clock.setTimeout(() => {
      this.pendingReads.delete(timer);
      this.answerRead(ch, index, name);
    }, latency);
    this.pendingReads.add(timer);
  }

  /** The next 100 ms tick (phase fixed at boot) answers up to READS_PER_TICK queued reads. */
  private armReadTick(): void {
    if (this.readTimer !== undefined || this.readQueue.length === 0) return;
    const wait = READ_TICK_MS - ((this.o.clock.now() - this.epoch) % READ_TICK_MS);
    this.readTimer = this.o.clock.setTimeout(() => {
      this.readTimer = undefined;
      for (const r of this.readQueue.splice(0, READS_PER_TICK)) this.answerRead(r.ch, r.index, r.name);
      this.armReadTick();
    }, wait);
  }

  handleList(ch: Channel): void {
    this.stopList(ch);
    for (const line of this.o.banner) ch.send(statusText(SEVERITY.INFO, line));
    const defs = this.o.store.visible();
    let index = 0;
    const tick = () => {
      // Parameters share the link: wait while earlier output is still on the wire.
      if (ch.drainMs() <= LIST_TICK_MS) {
        for (let n = 0; n < LIST_BURST && index < defs.length; n++, index++) {
          const def = defs[index]!;
          ch.send(this.valueMsg(this.o.store.echoOf(def), index, defs.length));
        }
      }
      if (index < defs.length) this.lists.set(ch, this.o.clock.setTimeout(tick, LIST_TICK_MS));
      else this.lists.delete(ch);
    };
    this.lists.set(ch, this.o.clock.setTimeout(tick, 0));
  }

  /** Forget a channel's list download (peer gone). */
  stopList(ch: Channel): void {
    const t = this.lists.get(ch);
    if (t !== undefined) this.o.clock.clearTimeout(t);
    this.lists.delete(ch);
  }

  /** Drop every pending read and list download (reboot, stop). */
  reset(): void {
    for (const t of this.pendingReads) this.o.clock.clearTimeout(t);
    this.pendingReads.clear();
    this.readQueue.length = 0;
    if (this.readTimer !== undefined) this.o.clock.clearTimeout(this.readTimer);
    this.readTimer = undefined;
    for (const ch of [...this.lists.keys()]) this.stopList(ch);
  }

  private answerRead(ch: Channel, index: number, name: string): void {
    const store = this.o.store;
    if (index !== -1) {
      // By index: the visible list's order; the reply carries the real index and canonical name.
      const def = index >= 0 ? store.visible()[index] : undefined;
      if (def !== undefined) ch.send(this.valueMsg(store.echoOf(def), index));
      return;
    }
    const def = store.find(name);
    if (def === undefined) return;
    // By name: ArduPilot copies the requested name and index (-1) into the reply.
    ch.send(this.valueMsg({ ...store.echoOf(def), name }, INDEX_BY_NAME));
  }

  private valueMsg(echo: ParamEcho, index: number, count = this.o.store.count()): common.ParamValue {
    return paramValue(echo.name, echo.value, echo.type, count, index);
  }
}
