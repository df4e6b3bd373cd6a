import type { common, MavLinkData } from 'node-mavlink';
import type { Channel } from './channel.js';
import type { Clock } from './clock.js';
import { paramValue, SEVERITY, statusText } from './messages.js';
import type { ParamEcho, ParamStore } from './param-store.js';

/** param_index of a PARAM_VALUE that answers by name (ArduPilot sends -1 as uint16). */
export const INDEX_BY_NAME = 65535;
/** ArduPilot's queue of pending PARAM_REQUEST_READs (GCS_Param.cpp `param_requests(20)`); more are dropped. */
export const READ_QUEUE_DEPTH = 20;

const LIST_TICK_MS = 10;
/**
 * List entries per 10 ms while the link has room: SITL over TCP sends all 1373 in ~700 ms (~2000/s,
 * measured), so 20 per tick. On a paced serial link the drain check below is what limits it.
 */
const LIST_BURST = 20;

export interface ParamServerOptions {
  store: ParamStore;
  clock: Clock;
  /** Delay before a PARAM_REQUEST_READ is answered (ArduPilot: ~99 ms median). */
  readLatencyMs: number;
  /** Send to every channel (PARAM_VALUE echoes and STATUSTEXT go to all active links). */
  broadcast: (msg: MavLinkData) => void;
  onSet: (name: string, value: number) => void;
  banner: readonly string[];
}

/** PARAM_SET / PARAM_REQUEST_READ / PARAM_REQUEST_LIST as ArduPilot's GCS_Param.cpp answers them. */
export class ParamServer {
  private readonly o: ParamServerOptions;
  private readonly pendingReads = new Set<unknown>();
  private readonly lists = new Map<Channel, unknown>();

  constructor(o: ParamServerOptions) {
    this.o = o;
  }

  set readLatencyMs(ms: number) {
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
    if (this.pendingReads.size >= READ_QUEUE_DEPTH) return;
    const index = m.paramIndex;
    const name = m.paramId;
    const timer = this.o.clock.setTimeout(() => {
      this.pendingReads.delete(timer);
      this.answerRead(ch, index, name);
    }, this.o.readLatencyMs);
    this.pendingReads.add(timer);
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
