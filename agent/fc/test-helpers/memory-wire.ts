import type { MavLinkData } from 'node-mavlink';
import type { Logger } from 'pino';
import type { Clock, SimPeer, SimTransport, TransportHooks } from '../../../sim/index.js';
import { decodeFrame, FrameEncoder, type Frame } from '../../../sim/frames.js';
import type { Transport, TransportHandlers, TransportOpener } from '../transport.js';

/** What the wire does with one frame: pass it, lose it, or hold it this many (driven) milliseconds. */
export type WireVerdict = 'forward' | 'drop' | number;

export interface WireRules {
  /**
   * Agent → FC, per frame. `inject` answers in the FC's place (an older firmware, a busy one), as
   * FaultProxy's does; the injected frames have their own sequence numbers, so the link counts gaps.
   */
  up: ((f: Frame, inject: (msg: MavLinkData) => void) => WireVerdict) | undefined;
  /** FC → agent, per frame. */
  down: ((f: Frame) => WireVerdict) | undefined;
}

/**
 * An in-memory wire between the agent's link and fc-sim, for tests on a driven clock: bytes cross as
 * promise jobs (no socket, no real time), and a delay is a timer on the same clock. Like FaultProxy it is
 * no model of the autopilot: fc-sim answers everything; the wire only drops or delays whole frames.
 * Give `simTransport` to startFcSim's `transport` and `open` to the link's `openTransport`.
 */
export class MemoryWire {
  readonly rules: WireRules = { up: undefined, down: undefined };
  /** Every frame the agent sent (before any rule), with the driven time it was sent at. */
  readonly fromAgent: { frame: Frame; at: number }[] = [];
  dropped = { up: 0, down: 0 };
  private hooks: TransportHooks | undefined;
  private listening = false;
  private readonly conns = new Set<{ peer: SimPeer; end: () => void }>();
  private nextId = 1;
  private readonly injector = new FrameEncoder(1, 1);

  constructor(private readonly clock: Clock) {}

  /** The frames of one message id the agent sent. */
  sent(msgid: number): { frame: Frame; at: number }[] {
    return this.fromAgent.filter((s) => s.frame.msgid === msgid);
  }

  /** fc-sim's side: a transport that "listens" for the link's opens. */
  simTransport = (hooks: TransportHooks, _logger: Logger): SimTransport => {
    this.hooks = hooks;
    const drop = async () => {
      for (const c of [...this.conns]) c.end();
    };
    return {
      link: 'memory:fc-sim',
      start: async () => void (this.listening = true),
      suspend: async () => {
        this.listening = false;
        await drop();
      },
      resume: async () => void (this.listening = true),
      stop: async () => {
        this.listening = false;
        await drop();
      },
    };
  };

  /** The link's side: "connect" to fc-sim. */
  open: TransportOpener = async (_spec, handlers: TransportHandlers): Promise<Transport> => {
    const hooks = this.hooks;
    if (hooks === undefined || !this.listening) throw new Error('memory wire: fc-sim is not listening');
    let open = true;
    const id = `memory-${this.nextId++}`;
    const peer: SimPeer = {
      id,
      write: (bytes) => this.carry(bytes, this.rules.down, 'down', () => open && handlers.onData(bytes)),
      close: () => conn.end(),
    };
    const conn = {
      peer,
      end: () => {
        if (!open) return;
        open = false;
        this.conns.delete(conn);
        queueMicrotask(() => {
          hooks.onClose(peer);
          handlers.onClose(new Error('memory wire: closed by fc-sim'));
        });
      },
    };
    this.conns.add(conn);
    queueMicrotask(() => open && hooks.onOpen(peer));
    return {
      write: (buf) => {
        if (!open) return false;
        const f = decodeFrame(buf);
        if (f !== undefined) this.fromAgent.push({ frame: f, at: this.clock.now() });
        const inject = (msg: MavLinkData) => {
          const bytes = this.injector.encode(msg);
          queueMicrotask(() => open && handlers.onData(bytes));
        };
        const up = this.rules.up;
        this.carry(buf, up && ((fr) => up(fr, inject)), 'up', () => open && hooks.onData(peer, buf));
        return true;
      },
      close: async () => {
        if (!open) return;
        open = false;
        this.conns.delete(conn);
        hooks.onClose(peer);
        handlers.onClose();
      },
      describe: () => id,
    };
  };

  /** One write is one frame on both sides (each end writes whole encoded frames). */
  private carry(bytes: Buffer, rule: ((f: Frame) => WireVerdict) | undefined, dir: 'up' | 'down', deliver: () => void): void {
    const f = rule === undefined ? undefined : decodeFrame(bytes);
    const verdict = f === undefined || rule === undefined ? 'forward' : rule(f);
    if (verdict === 'drop') {
      this.dropped[dir]++;
      return;
    }
    if (verdict === 'forward') queueMicrotask(deliver);
    else this.clock.setTimeout(deliver, verdict);
  }
}
