import type { MavLinkData } from 'node-mavlink';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { DelayLine } from './delay-line.js';
import { FrameEncoder, FrameSplitter, type Frame } from './frames.js';
import type { Impairments } from './impairments.js';
import { PacedQueue } from './paced-queue.js';
import type { SimSigning } from './signing.js';
import type { SimPeer } from './transport.js';

/** Counters over every channel of one simulator. */
export interface LinkStats {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Frames that failed their checksum (corruption). */
  crcErrors: number;
  /** Frames dropped by the `loss` impairment, both directions. */
  framesLost: number;
  paramSets: number;
  /** With signing on: frames from peers with a good signature, dropped unsigned ones, dropped bad ones. */
  signedOk: number;
  unsignedDropped: number;
  badSignatures: number;
}

export function emptyStats(): LinkStats {
  return { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, crcErrors: 0, framesLost: 0, paramSets: 0, signedOk: 0, unsignedDropped: 0, badSignatures: 0 };
}

export interface ChannelOptions {
  peer: SimPeer;
  /** Pace both directions at this UART rate (10 bits per byte); undefined: no pacing. */
  baud: number | undefined;
  sysid: number;
  impairments: Impairments;
  clock: Clock;
  stats: LinkStats;
  logger: Logger;
  onFrame: (frame: Frame) => void;
  /** True while the FC must send nothing (rebooting, frozen). */
  silent: () => boolean;
  /** MAVLink 2 signing in force now (a key is set at start or by SETUP_SIGNING); undefined: off. */
  signing?: () => SimSigning | undefined;
}

/**
 * One MAVLink channel (ArduPilot keeps one per serial port / TCP client): its own sequence counter and
 * message intervals, and the impaired wire in both directions.
 *
 *   in:  bytes → baud pacing → byte corruption → splitter (CRC) → freeze → frame loss → latency → FC
 *   out: FC → MAVLink 2 frame → frame loss → byte corruption → latency → baud pacing → bytes
 */
export class Channel {
  readonly peer: SimPeer;
  /** Streamed messages: MAVLink message id → timer handle, owned by the simulator. */
  readonly intervals = new Map<number, unknown>();
  private readonly o: ChannelOptions;
  private readonly encoder: FrameEncoder;
  private readonly splitter: FrameSplitter;
  private readonly inPacer: PacedQueue;
  private readonly outPacer: PacedQueue;
  private readonly inDelay: DelayLine<Frame>;
  private readonly outDelay: DelayLine<Buffer>;
  private closed = false;

  constructor(o: ChannelOptions) {
    this.o = o;
    this.peer = o.peer;
    this.encoder = new FrameEncoder(o.sysid, 1, o.signing);
    this.splitter = new FrameSplitter((f) => this.onSplit(f), {
      onCrcError: () => o.stats.crcErrors++,
      onError: (err) => o.logger.error({ err, peer: o.peer.id }, 'fc-sim frame splitter failed'),
    });
    this.inPacer = new PacedQueue({ baud: o.baud, clock: o.clock, deliver: (b) => this.splitter.write(o.impairments.corrupt(b)) });
    this.outPacer = new PacedQueue({
      baud: o.baud,
      clock: o.clock,
      deliver: (b) => {
        o.stats.bytesOut += b.length;
        o.peer.write(b);
      },
    });
    this.inDelay = new DelayLine((f) => o.onFrame(f), o.clock);
    this.outDelay = new DelayLine((b) => this.outPacer.push(b), o.clock);
  }

  /** Bytes that arrived from the peer. */
  receive(bytes: Buffer): void {
    if (this.closed) return;
    this.o.stats.bytesIn += bytes.length;
    this.inPacer.push(bytes);
  }

  /** Send one message as MAVLink 2 (dropped while the FC is silent). */
  send(msg: MavLinkData): void {
    if (this.closed || this.o.silent()) return;
    const frame = this.encoder.encode(msg);
    if (this.o.impairments.lose()) {
      this.o.stats.framesLost++;
      return;
    }
    this.o.stats.framesOut++;
    this.outDelay.push(this.o.impairments.corrupt(frame), this.o.impairments.settings.latencyMs);
  }

  setSystemId(sysid: number): void {
    this.encoder.setSystemId(sysid);
  }

  /** Milliseconds until everything already sent has left the wire. */
  drainMs(): number {
    return (this.outDelay.size > 0 ? this.o.impairments.settings.latencyMs : 0) + this.outPacer.backlogMs;
  }

  /** Forget what is queued inbound (an FC reboot loses its receive buffer). */
  dropInbound(): void {
    this.inPacer.clear();
    this.inDelay.clear();
  }

  close(): void {
    this.closed = true;
    this.inPacer.close();
    this.outPacer.close();
    this.inDelay.clear();
    this.outDelay.clear();
    this.splitter.destroy();
    for (const t of this.intervals.values()) this.o.clock.clearTimeout(t);
    this.intervals.clear();
  }

  private onSplit(frame: Frame): void {
    const signing = this.o.signing?.();
    if (signing !== undefined) {
      const check = signing.check(frame.buffer);
      if (check === 'bad') return void this.o.stats.badSignatures++;
      if (check === 'unsigned' && !signing.acceptUnsigned) return void this.o.stats.unsignedDropped++;
      if (check === 'ok') this.o.stats.signedOk++;
    }
    this.o.stats.framesIn++;
    if (!this.o.impairments.admitFrame()) return;
    if (this.o.impairments.lose()) {
      this.o.stats.framesLost++;
      return;
    }
    this.inDelay.push(frame, this.o.impairments.settings.latencyMs);
  }
}
