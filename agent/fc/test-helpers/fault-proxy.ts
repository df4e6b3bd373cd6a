import { createServer, connect, type Server, type Socket } from 'node:net';
import { x25crc, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';
import { FrameEncoder, FrameSplitter, readMessage, type Frame } from '../../../sim/frames.js';

/**
 * A MAVLink-aware TCP man-in-the-middle between the agent's link and fc-sim, for the link's unit tests.
 * It is not a second model of the autopilot: every answer comes from fc-sim (the one model, checked
 * against SITL). The proxy only breaks the wire on purpose, the way a bad radio or an older firmware
 * would: it drops, delays or rewrites whole frames, and can answer a command in the FC's place.
 * Rules are plain mutable fields, so a test can flip them mid-run. Each agent connection gets its own
 * connection to the FC.
 */
export interface FaultRules {
  /** FC → agent: drop everything (an FC that went quiet, heartbeats included). */
  silent: boolean;
  /** Agent → FC: drop everything (the FC's heartbeats still arrive: an FC that stopped listening). */
  deaf: boolean;
  /** Drop every Nth frame in each direction (0 = none), after it was numbered (the receiver sees a gap). */
  dropEvery: number;
  /** FC → agent: drop this frame when it returns true. */
  dropDown: ((f: Frame) => boolean) | undefined;
  /** FC → agent: replace a frame's bytes (undefined keeps it). */
  rewriteDown: ((f: Frame) => Buffer | undefined) | undefined;
  /**
   * Agent → FC: called before forwarding. Return 'drop' to swallow the frame (after `inject` answered in
   * the FC's place), 'forward' to pass it on now, or a number of milliseconds to hold it first.
   */
  up: ((f: Frame, inject: (msg: MavLinkData) => void) => 'drop' | 'forward' | number) | undefined;
}

export interface SeenFrame {
  frame: Frame;
  at: number;
}

export class FaultProxy {
  readonly rules: FaultRules = { silent: false, deaf: false, dropEvery: 0, dropDown: undefined, rewriteDown: undefined, up: undefined };
  /** Every frame the agent sent (before any rule), with its arrival time. */
  readonly fromAgent: SeenFrame[] = [];
  dropped = { up: 0, down: 0 };
  port = 0;
  private readonly server: Server;
  private readonly pairs = new Set<{ agent: Socket; fc: Socket }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly injector = new FrameEncoder(1, 1);
  private counts = { up: 0, down: 0 };

  constructor(private readonly fcPort: number) {
    this.server = createServer((sock) => this.onAgent(sock));
  }

  get link(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  get clientCount(): number {
    return this.pairs.size;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    return this;
  }

  /** The messages of `clazz` the agent sent, decoded, with arrival times. */
  sent<T extends MavLinkData>(clazz: MavLinkDataConstructor<T>): (T & { at: number; msgid: number })[] {
    return this.fromAgent.filter((s) => s.frame.msgid === clazz.MSG_ID).map((s) => Object.assign(readMessage(s.frame, clazz), { at: s.at, msgid: s.frame.msgid }));
  }

  /** Close every connection, both sides (a TCP peer going away). */
  dropClients(): void {
    for (const p of this.pairs) {
      p.agent.destroy();
      p.fc.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropClients();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onAgent(agent: Socket): void {
    agent.setNoDelay(true);
    const fc = connect({ host: '127.0.0.1', port: this.fcPort });
    fc.setNoDelay(true);
    const pair = { agent, fc };
    this.pairs.add(pair);
    const toAgent = (b: Buffer) => void (!agent.destroyed && agent.write(b));
    const toFc = (b: Buffer) => void (!fc.destroyed && fc.write(b));
    const inject = (msg: MavLinkData) => toAgent(this.injector.encode(msg));
    const down = new FrameSplitter((f) => this.onDown(f, toAgent), { onError: () => undefined });
    const up = new FrameSplitter((f) => this.onUp(f, toFc, inject), { onError: () => undefined });
    fc.on('data', (b: Buffer) => down.write(b));
    agent.on('data', (b: Buffer) => up.write(b));
    const close = () => {
      this.pairs.delete(pair);
      agent.destroy();
      fc.destroy();
      down.destroy();
      up.destroy();
    };
    agent.on('close', close);
    fc.on('close', close);
    agent.on('error', () => undefined);
    fc.on('error', () => undefined);
  }

  private onDown(f: Frame, toAgent: (b: Buffer) => void): void {
    const r = this.rules;
    this.counts.down++;
    if (r.silent || (r.dropEvery > 0 && this.counts.down % r.dropEvery === 0) || r.dropDown?.(f) === true) {
      this.dropped.down++;
      return;
    }
    toAgent(r.rewriteDown?.(f) ?? f.buffer);
  }

  private onUp(f: Frame, toFc: (b: Buffer) => void, inject: (msg: MavLinkData) => void): void {
    const r = this.rules;
    this.fromAgent.push({ frame: f, at: Date.now() });
    this.counts.up++;
    if (r.deaf || (r.dropEvery > 0 && this.counts.up % r.dropEvery === 0)) {
      this.dropped.up++;
      return;
    }
    const verdict = r.up?.(f, inject) ?? 'forward';
    if (verdict === 'drop') return;
    if (verdict === 'forward') return toFc(f.buffer);
    const t = setTimeout(() => {
      this.timers.delete(t);
      toFc(f.buffer);
    }, verdict);
    this.timers.add(t);
  }
}

/** A copy of a MAVLink 2 (unsigned) frame with its float32 at payload offset `at` replaced, CRC redone. */
export function withFloat(f: Frame, at: number, value: number, crcExtra: number): Buffer {
  const buf = Buffer.from(f.buffer);
  buf.writeFloatLE(value, 10 + at);
  buf.writeUInt16LE(x25crc(buf, 1, 2, crcExtra), buf.length - 2);
  return buf;
}
