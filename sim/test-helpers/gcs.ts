import { connect, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { common, MavLinkProtocolV1, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';
import { SerialPort } from 'serialport';
import { FrameEncoder, FrameSplitter, readMessage, type Frame } from '../frames.js';
import { parseSimLink } from '../link-spec.js';

/** A frame as the test ground station received it. */
export interface Seen {
  frame: Frame;
  at: number;
}

interface Waiter {
  test: (s: Seen) => boolean;
  resolve: (s: Seen) => void;
  cancel: () => void;
}

/**
 * A bare ground station for tests: raw node-mavlink frames over TCP, UDP or a serial device, every
 * received frame kept in `seen`, and bounded waits for the next frame that matches.
 */
export class TestGcs {
  readonly seen: Seen[] = [];
  bytesIn = 0;
  bytesOut = 0;
  /** Resolves when the FC side closed the connection. */
  readonly closed: Promise<void>;
  private readonly writeRaw: (b: Buffer) => void;
  private readonly shut: () => Promise<void>;
  private readonly encoder = new FrameEncoder(255, 190);
  private readonly v1 = new MavLinkProtocolV1(255, 190);
  private v1seq = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly splitter: FrameSplitter;
  private markClosed: () => void = () => {};

  private constructor(writeRaw: (b: Buffer) => void, shut: () => Promise<void>) {
    this.writeRaw = writeRaw;
    this.shut = shut;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.splitter = new FrameSplitter((frame) => this.onFrame(frame), {
      onError: (err) => {
        throw err;
      },
    });
  }

  /** Connect to `tcp:HOST:PORT` or `udp:HOST:PORT` (the sim's link string). */
  static async connect(link: string): Promise<TestGcs> {
    const spec = parseSimLink(link);
    if (spec.kind === 'serial') return TestGcs.serial(spec.path, spec.baud);
    if (spec.kind === 'udp') return TestGcs.udp(spec.host, spec.port);
    const socket: Socket = connect({ host: spec.host, port: spec.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const gcs = new TestGcs(
      (b) => socket.write(b),
      () => new Promise((resolve) => (socket.destroyed ? resolve() : (socket.once('close', () => resolve()), socket.destroy()))),
    );
    socket.on('data', (b: Buffer) => gcs.receive(b));
    socket.on('error', () => {});
    socket.on('close', () => gcs.markClosed());
    return gcs;
  }

  static async udp(host: string, port: number): Promise<TestGcs> {
    const socket: UdpSocket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const gcs = new TestGcs(
      (b) => socket.send(b, port, host),
      () => new Promise((resolve) => socket.close(() => resolve())),
    );
    socket.on('message', (b) => gcs.receive(b));
    return gcs;
  }

  static async serial(path: string, baud: number): Promise<TestGcs> {
    const port = new SerialPort({ path, baudRate: baud, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const gcs = new TestGcs(
      (b) => port.write(b),
      () => new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    );
    port.on('data', (b: Buffer) => gcs.receive(b));
    port.on('error', () => {});
    port.on('close', () => gcs.markClosed());
    return gcs;
  }

  /** Send as MAVLink 2 (or v1 when asked); returns the bytes written. */
  send(msg: MavLinkData, opts: { v1?: boolean } = {}): Buffer {
    const bytes = this.encode(msg, opts);
    this.sendRaw(bytes);
    return bytes;
  }

  /** The frame `send` would write, with the next sequence number. */
  encode(msg: MavLinkData, opts: { v1?: boolean } = {}): Buffer {
    return opts.v1 ? this.v1.serialize(msg, this.v1seq++ & 0xff) : this.encoder.encode(msg);
  }

  sendRaw(bytes: Buffer): void {
    this.bytesOut += bytes.length;
    this.writeRaw(bytes);
  }

  /** Index into `seen` to wait or collect from. */
  mark(): number {
    return this.seen.length;
  }

  /** Every message of `clazz` seen since `since`. */
  collect<T extends MavLinkData>(clazz: MavLinkDataConstructor<T>, since = 0): T[] {
    return this.seen.slice(since).filter((s) => s.frame.msgid === clazz.MSG_ID).map((s) => readMessage(s.frame, clazz));
  }

  /** The first message of `clazz` matching `pred`, from `since` (default: from now on), within `timeoutMs`. */
  async wait<T extends MavLinkData>(
    clazz: MavLinkDataConstructor<T>,
    pred: (m: T, s: Seen) => boolean = () => true,
    opts: { since?: number; timeoutMs?: number } = {},
  ): Promise<T & { seenAt: number; frame: Frame }> {
    const test = (s: Seen) => s.frame.msgid === clazz.MSG_ID && pred(readMessage(s.frame, clazz), s);
    const done = (s: Seen) => Object.assign(readMessage(s.frame, clazz), { seenAt: s.at, frame: s.frame });
    const already = this.seen.slice(opts.since ?? this.seen.length).find(test);
    if (already !== undefined) return done(already);
    const timeoutMs = opts.timeoutMs ?? 3000;
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        test,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(done(s));
        },
        cancel: () => {
          clearTimeout(timer);
          reject(new Error(`closed while waiting for ${clazz.MSG_NAME}`));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${clazz.MSG_NAME}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** COMMAND_LONG → the matching COMMAND_ACK. */
  command(command: number, params: readonly number[] = [], opts: { timeoutMs?: number; target?: [number, number] } = {}): Promise<common.CommandAck & { seenAt: number }> {
    const m = new common.CommandLong();
    m.targetSystem = opts.target?.[0] ?? 1;
    m.targetComponent = opts.target?.[1] ?? 1;
    m.command = command;
    m.confirmation = 0;
    [m._param1, m._param2, m._param3, m._param4, m._param5, m._param6, m._param7] = [0, 1, 2, 3, 4, 5, 6].map((i) => params[i] ?? 0) as [number, number, number, number, number, number, number];
    const since = this.mark();
    this.send(m);
    return this.wait(common.CommandAck, (a) => a.command === command, { since, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) });
  }

  /** Build a PARAM_SET (not sent). */
  static paramSet(name: string, value: number, type = 9): common.ParamSet {
    const m = new common.ParamSet();
    m.targetSystem = 1;
    m.targetComponent = 1;
    m.paramId = name;
    m.paramValue = value;
    m.paramType = type;
    return m;
  }

  static paramRead(nameOrIndex: string | number): common.ParamRequestRead {
    const m = new common.ParamRequestRead();
    m.targetSystem = 1;
    m.targetComponent = 1;
    m.paramId = typeof nameOrIndex === 'string' ? nameOrIndex : '';
    m.paramIndex = typeof nameOrIndex === 'string' ? -1 : nameOrIndex;
    return m;
  }

  static paramList(): common.ParamRequestList {
    const m = new common.ParamRequestList();
    m.targetSystem = 1;
    m.targetComponent = 1;
    return m;
  }

  close(): Promise<void> {
    for (const w of this.waiters) w.cancel();
    this.waiters.clear();
    this.splitter.destroy();
    return this.shut();
  }

  private receive(bytes: Buffer): void {
    this.bytesIn += bytes.length;
    this.splitter.write(bytes);
  }

  private onFrame(frame: Frame): void {
    const s: Seen = { frame, at: performance.now() };
    this.seen.push(s);
    for (const w of [...this.waiters]) {
      if (w.test(s)) {
        this.waiters.delete(w);
        w.resolve(s);
      }
    }
  }
}

/** A small seeded PRNG (mulberry32) so loss and corruption are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
