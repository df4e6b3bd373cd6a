import { EventEmitter } from 'node:events';
import type { MavLinkData } from 'node-mavlink';
import { AimError } from '../../protocol/errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { BackoffOptions } from '../backoff.js';
import { requestAutopilotInfo, type AutopilotInfo } from './capabilities.js';
import { CommandSender, type CommandOptions, type CommandResult, type CommandSpec } from './command.js';
import { FrameDecoder, FrameEncoder, zeroCounters, type Frame, type WireCounters } from './framing.js';
import { GimbalClient } from './gimbal.js';
import type { LinkCore } from './link-core.js';
import { formatLinkString, parseLinkString, type LinkSpec } from './link-string.js';
import { CommandLong, Heartbeat, MavAutopilot, MavCmd, MavComponent, MavState, MavType, StatusText } from './messages.js';
import { chooseEncoding, type ParamEncoding } from './param-encoding.js';
import { DEFAULT_SET_WINDOW, NETWORK_SET_WINDOW, ParamClient, type ParamClientDefaults } from './params.js';
import { Signing } from './signing.js';
import { Reconnector } from './reconnector.js';
import { openTransport, type Transport, type TransportOpener } from './transport.js';
import { realTimers, VehicleTracker, type Timers, type Vehicle } from './vehicle-tracker.js';

export interface FcLinkOptions {
  logger?: Logger;
  /** 32-byte MAVLink 2 signing key: outgoing frames are signed, incoming ones checked. */
  signingKey?: Buffer;
  /** With a signing key: accept unsigned incoming frames too (default false). */
  acceptUnsigned?: boolean;
  signingLinkId?: number;
  /** Reconnect backoff (default 500 ms doubling to 5 s, ±20 % jitter). */
  reconnect?: BackoffOptions;
  /** Our HEARTBEAT period (default 1000 ms, DESIGN.md). */
  heartbeatIntervalMs?: number;
  /** No FC HEARTBEAT for this long → down (default 3000 ms). */
  heartbeatTimeoutMs?: number;
  /** Our component id (default 191, MAV_COMP_ID_ONBOARD_COMPUTER). */
  componentId?: number;
  /** Parameter client defaults (per-attempt timeout, sends per parameter, windows). */
  params?: Partial<ParamClientDefaults>;
  /** Ask AUTOPILOT_VERSION when the FC appears (default true). */
  requestCapabilities?: boolean;
  /**
   * Ask for a HEARTBEAT as soon as the transport opens (default true): ArduPilot sends one only at 1 Hz,
   * so a new process would wait up to a second to learn the FC's system id; asked, it answers in ~5 ms.
   */
  requestHeartbeat?: boolean;
  /**
   * Time for everything the link schedules: heartbeats, the FC timeout, and every retry, timeout and
   * pause of the param and command clients (default real timers; tests pass a driven clock).
   */
  timers?: Timers;
  /** Opens the transport the link string names (default: the real one; tests pass an in-memory pipe). */
  openTransport?: TransportOpener;
}

/** While no FC is known, ask again for a HEARTBEAT this often (a lossy link may eat the first ask). */
const HEARTBEAT_ASK_MS = 250;
/**
 * An FC that has been silent this long (a 1 Hz heartbeat is late) is asked for a HEARTBEAT every
 * HEARTBEAT_ASK_MS until a frame comes: on a link corrupting a third of its frames, eight asks before the
 * 3 s timeout make a false link-down rare where three lost heartbeats in a row were not.
 */
const SILENCE_ASK_AFTER_MS = 1100;

/** The link's health: the wire counters (frames, bytes, CRC errors, sequence gaps, signatures) and more. */
export interface LinkStatus extends WireCounters {
  link: string;
  state: 'up' | 'down';
  heartbeatAgeMs: number | null;
  /** Transport (re)connections so far. */
  connects: number;
  /** Whether a transport is open right now (up also needs FC heartbeats). */
  connected: boolean;
  lastError: string | null;
}

export interface FcLinkEvents {
  up: [vehicle: Vehicle];
  down: [reason: string];
  heartbeat: [vehicle: Vehicle];
  /** The armed flag: on the first heartbeat, then on every change. */
  armed: [armed: boolean];
  statustext: [msg: { severity: number; text: string }];
  /** Transport trouble (emitted only when someone listens; always logged). */
  error: [err: AimError];
}

/**
 * The MAVLink link to the flight controller: opens the transport a link string names, reconnects with
 * backoff, sends our 1 Hz HEARTBEAT as the FC's onboard computer, tracks the FC, and carries the
 * param and gimbal clients. `openFcLink` returns at once; `waitForVehicle` waits for the FC.
 */
export class FcLink extends EventEmitter<FcLinkEvents> {
  readonly spec: LinkSpec;
  readonly params: ParamClient;
  readonly gimbal: GimbalClient;
  readonly commands: CommandSender;
  private readonly log: Logger;
  private readonly counters: WireCounters = zeroCounters();
  private readonly encoder: FrameEncoder;
  private readonly signing: Signing | undefined;
  private readonly tracker: VehicleTracker;
  private readonly subscribers = new Map<number, Set<(f: Frame) => void>>();
  private readonly downListeners = new Set<(reason: string) => void>();
  private readonly closeCtl = new AbortController();
  private readonly core: LinkCore;
  private readonly connection: Reconnector;
  private decoder: FrameDecoder | undefined;
  private readonly timers: Timers;
  private started = false;
  private heartbeatTimer: unknown;
  private askTimer: unknown;
  private silenceTimer: unknown;
  private lastError: string | null = null;
  /** Answers from the FC to our requests on this connection: proof that it hears us (see absence.ts). */
  private answers = 0;
  /** The error last reported in this outage: retries failing the same way are logged once, not emitted again. */
  private reportedInOutage: string | undefined;
  private info: AutopilotInfo | undefined;
  private infoPending: Promise<AutopilotInfo | undefined> | undefined;

  constructor(
    link: string | LinkSpec,
    private readonly opts: FcLinkOptions = {},
  ) {
    super();
    this.timers = opts.timers ?? realTimers;
    this.spec = typeof link === 'string' ? parseLinkString(link) : link;
    this.log = (opts.logger ?? silentLogger()).child({ fcLink: formatLinkString(this.spec) });
    this.signing = opts.signingKey ? new Signing({ key: opts.signingKey, acceptUnsigned: opts.acceptUnsigned, linkId: opts.signingLinkId }) : undefined;
    const componentId = opts.componentId ?? MavComponent.ONBOARD_COMPUTER;
    this.encoder = new FrameEncoder({ systemId: () => this.tracker.vehicle?.systemId ?? 1, componentId }, this.signing);
    this.tracker = new VehicleTracker(opts.heartbeatTimeoutMs ?? 3000, {
      onUp: (v) => this.onVehicleUp(v),
      onDown: (reason) => this.onVehicleDown(reason),
      onHeartbeat: (v) => this.emit('heartbeat', v),
      onArmed: (armed) => this.emit('armed', armed),
    }, this.timers);
    this.core = this.makeCore(componentId);
    this.commands = new CommandSender(this.core);
    const window = this.spec.kind === 'serial' ? DEFAULT_SET_WINDOW : NETWORK_SET_WINDOW;
    this.params = new ParamClient(this.core, { window, ...opts.params });
    this.gimbal = new GimbalClient(this.core, this.commands);
    this.connection = new Reconnector(
      this.spec,
      opts.reconnect,
      {
        onOpen: (t) => this.onTransportOpen(t),
        onData: (chunk) => this.decoder?.push(chunk),
        onClose: (err) => this.onTransportClose(err),
        onError: (err, what) => this.reportError(err, what),
      },
      opts.openTransport ?? openTransport,
      this.timers,
    );
    this.subscribe(StatusText.MSG_ID, (f) => {
      const m = f.decode(StatusText);
      this.emit('statustext', { severity: m.severity, text: m.text });
    });
  }

  /** Start connecting in the background (openFcLink calls this). */
  start(): void {
    if (this.started || this.closeCtl.signal.aborted) return;
    this.started = true;
    this.connection.start();
    this.every(this.opts.heartbeatIntervalMs ?? 1000, (t) => (this.heartbeatTimer = t), () => this.sendHeartbeat());
    if (this.opts.requestHeartbeat !== false) this.every(HEARTBEAT_ASK_MS, (t) => (this.silenceTimer = t), () => this.askIfSilent());
  }

  /** A repeating timer on the injected timers (a timeout re-armed each period, until close). */
  private every(ms: number, keep: (handle: unknown) => void, fn: () => void): void {
    const tick = () => {
      if (this.closeCtl.signal.aborted) return;
      keep(this.timers.setTimeout(tick, ms));
      fn();
    };
    keep(this.timers.setTimeout(tick, ms));
  }

  get vehicle(): Vehicle | undefined {
    return this.tracker.vehicle;
  }

  /** AUTOPILOT_VERSION, once the FC answered. */
  get autopilot(): AutopilotInfo | undefined {
    return this.info;
  }

  /** The parameter value encoding in use. */
  get encoding(): ParamEncoding {
    return this.info?.encoding ?? chooseEncoding(this.tracker.vehicle?.autopilot ?? 0, undefined);
  }

  status(): LinkStatus {
    return {
      link: formatLinkString(this.spec),
      state: this.tracker.up ? 'up' : 'down',
      heartbeatAgeMs: this.tracker.heartbeatAgeMs(),
      ...this.counters,
      connects: this.connection.connects,
      connected: this.connection.transport !== undefined,
      lastError: this.lastError,
    };
  }

  /** Resolve with the FC once its HEARTBEAT is fresh. AIM_ERR_FC_TIMEOUT after `timeoutMs` (default 10 s). */
  waitForVehicle(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Vehicle> {
    const v = this.tracker.vehicle;
    if (this.tracker.up && v !== undefined) return Promise.resolve(v);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.timers.clearTimeout(timer);
        this.off('up', onUp);
        opts.signal?.removeEventListener('abort', onAbort);
        this.closeCtl.signal.removeEventListener('abort', onAbort);
      };
      const onUp = (vehicle: Vehicle) => {
        cleanup();
        resolve(vehicle);
      };
      const onAbort = () => {
        cleanup();
        reject(new AimError('AIM_ERR_ABORTED', 'waiting for the flight controller: aborted', { cause: opts.signal?.reason }));
      };
      const timer = this.timers.setTimeout(() => {
        cleanup();
        const s = this.status();
        reject(
          new AimError('AIM_ERR_FC_TIMEOUT', `no HEARTBEAT from a flight controller on ${s.link} within ${timeoutMs} ms`, {
            details: { link: s.link, connected: s.connected, framesIn: s.framesIn, lastError: s.lastError },
          }),
        );
      }, timeoutMs);
      this.on('up', onUp);
      if (opts.signal?.aborted || this.closeCtl.signal.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.closeCtl.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Send a MAVLink command and wait for its final COMMAND_ACK (arm, reboot, message intervals…). */
  command(spec: CommandSpec, opts?: CommandOptions): Promise<CommandResult> {
    return this.commands.send(spec, opts);
  }

  /** Ask AUTOPILOT_VERSION now (it is also asked once when the FC appears). */
  requestAutopilotVersion(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<AutopilotInfo | undefined> {
    return requestAutopilotInfo(this.core, this.commands, opts).then((info) => {
      if (info !== undefined) this.info = info;
      return info;
    });
  }

  /** Close the transport, stop every timer, fail pending calls with AIM_ERR_ABORTED. Idempotent. */
  async close(): Promise<void> {
    if (!this.closeCtl.signal.aborted) this.closeCtl.abort();
    this.timers.clearTimeout(this.heartbeatTimer);
    this.timers.clearTimeout(this.askTimer);
    this.timers.clearTimeout(this.silenceTimer);
    await this.connection.close();
    this.decoder?.destroy();
    this.decoder = undefined;
    this.tracker.dispose();
  }

  private subscribe(msgid: number, fn: (f: Frame) => void): () => void {
    let set = this.subscribers.get(msgid);
    if (set === undefined) this.subscribers.set(msgid, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  private makeCore(componentId: number): LinkCore {
    return {
      logger: this.log,
      componentId,
      timers: this.timers,
      systemId: () => this.tracker.vehicle?.systemId ?? 1,
      vehicle: () => this.tracker.vehicle,
      isUp: () => this.tracker.up,
      send: (msg, patch) => this.send(msg, patch),
      subscribe: (msgid, fn) => this.subscribe(msgid, fn),
      onDown: (fn) => {
        this.downListeners.add(fn);
        return () => this.downListeners.delete(fn);
      },
      closing: this.closeCtl.signal,
      encoding: () => this.encoding,
      wire: () => ({ framesIn: this.counters.framesIn, seqGaps: this.counters.seqGaps, crcErrors: this.counters.crcErrors, answers: this.answers }),
      noteAnswer: () => void this.answers++,
      encodingSettled: (signal) => this.encodingSettled(signal),
    };
  }

  private send(msg: MavLinkData, patch?: (payload: Buffer) => void): boolean {
    const t = this.connection.transport;
    if (t === undefined) return false;
    const buf = this.encoder.encode(msg, patch);
    if (!t.write(buf)) return false;
    this.counters.framesOut++;
    this.counters.bytesOut += buf.length;
    return true;
  }

  private sendHeartbeat(): void {
    // We take the FC's system id, so we only speak once we know it; except on udpout, where our
    // heartbeat is how the far end learns our address at all.
    if (this.tracker.vehicle === undefined && this.spec.kind !== 'udpout') return;
    const hb = new Heartbeat();
    hb.type = MavType.ONBOARD_CONTROLLER;
    hb.autopilot = MavAutopilot.INVALID;
    hb.baseMode = 0 as typeof hb.baseMode;
    hb.customMode = 0;
    hb.systemStatus = MavState.ACTIVE;
    hb.mavlinkVersion = 3;
    this.send(hb);
  }

  private onFrame(frame: Frame): void {
    if (frame.msgid === Heartbeat.MSG_ID) {
      const hb = frame.decode(Heartbeat);
      this.tracker.handleHeartbeat(frame.sysid, frame.compid, hb);
    } else this.tracker.handleFrame(frame.sysid, frame.compid);
    // Everything else only from the FC we track: other components' PARAM_VALUEs and acks are not its.
    if (!this.tracker.isVehicle(frame.sysid, frame.compid)) return;
    const set = this.subscribers.get(frame.msgid);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        fn(frame);
      } catch (err) {
        this.log.warn({ err, msgid: frame.msgid }, 'handler failed on an incoming MAVLink frame');
      }
    }
  }

  private onVehicleUp(v: Vehicle): void {
    this.connection.resetBackoff();
    this.reportedInOutage = undefined;
    this.log.info({ systemId: v.systemId, componentId: v.componentId, autopilot: v.autopilot, type: v.type }, 'flight controller up');
    this.emit('up', v);
    if (this.opts.requestCapabilities !== false && this.info === undefined && this.infoPending === undefined) {
      this.infoPending = this.requestAutopilotVersion({ signal: this.closeCtl.signal })
        .catch(() => undefined)
        .finally(() => (this.infoPending = undefined));
    }
  }

  private onVehicleDown(reason: string): void {
    this.log.warn({ reason }, 'flight controller down');
    for (const fn of [...this.downListeners]) fn(reason);
    this.emit('down', reason);
  }

  private async encodingSettled(signal: AbortSignal): Promise<ParamEncoding> {
    // ArduPilot is C-cast whatever AUTOPILOT_VERSION says; others wait (bounded) for their capability bits.
    if (this.info !== undefined || this.tracker.vehicle?.autopilot === MavAutopilot.ARDUPILOTMEGA) return this.encoding;
    const pending = this.infoPending ?? this.requestAutopilotVersion({ signal });
    await pending.catch(() => undefined);
    return this.encoding;
  }

  private onTransportOpen(t: Transport): void {
    // A fresh decoder per connection: a partial frame from the old one never glues onto the new.
    this.decoder?.destroy();
    this.decoder = new FrameDecoder(this.counters, (f) => this.onFrame(f), this.signing);
    this.answers = 0;
    this.log.info({ transport: t.describe(), connects: this.connection.connects }, 'flight-controller transport open');
    this.sendHeartbeat();
    if (this.opts.requestHeartbeat !== false) this.askForHeartbeat(4);
  }

  /** MAV_CMD_REQUEST_MESSAGE(HEARTBEAT) to every system: the FC's answer tells us who it is at once. */
  private askForHeartbeat(times: number): void {
    this.timers.clearTimeout(this.askTimer);
    this.askTimer = undefined;
    if (this.tracker.vehicle !== undefined || times <= 0 || this.closeCtl.signal.aborted) return;
    this.requestHeartbeat(0, 0);
    this.askTimer = this.timers.setTimeout(() => this.askForHeartbeat(times - 1), HEARTBEAT_ASK_MS);
  }

  private askIfSilent(): void {
    const silence = this.tracker.silenceMs();
    const v = this.tracker.vehicle;
    if (silence !== null && silence >= SILENCE_ASK_AFTER_MS && v !== undefined) this.requestHeartbeat(v.systemId, v.componentId);
  }

  private requestHeartbeat(targetSystem: number, targetComponent: number): void {
    const m = new CommandLong();
    m.targetSystem = targetSystem;
    m.targetComponent = targetComponent;
    m.command = MavCmd.REQUEST_MESSAGE;
    m._param1 = Heartbeat.MSG_ID;
    this.send(m);
  }

  private onTransportClose(err: Error | undefined): void {
    this.decoder?.destroy();
    this.decoder = undefined;
    this.tracker.transportClosed(err ? `transport closed: ${err.message}` : 'transport closed');
  }

  private reportError(err: unknown, what: string): void {
    const msg = err instanceof Error ? err.message : String(err);
    const repeat = this.reportedInOutage === msg;
    this.lastError = msg;
    this.reportedInOutage = msg;
    if (repeat) {
      this.log.debug({ err: msg }, what);
      return;
    }
    this.log.warn({ err: msg }, what);
    if (this.listenerCount('error') > 0) this.emit('error', new AimError('AIM_ERR_FC_LINK', `${what}: ${msg}`, { cause: err }));
  }
}

/**
 * Open the link a link string names. Returns at once; the link connects (and reconnects) in the
 * background. Close it with `close()`.
 * @example const link = await openFcLink('tcp:127.0.0.1:5760', { logger }); await link.waitForVehicle();
 */
export async function openFcLink(link: string, opts: FcLinkOptions = {}): Promise<FcLink> {
  const l = new FcLink(link, opts);
  l.start();
  return l;
}
