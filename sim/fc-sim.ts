import { EventEmitter } from 'node:events';
import { common, type MavLinkData } from 'node-mavlink';
import { pino, type Logger } from 'pino';
import { Channel, emptyStats, type LinkStats } from './channel.js';
import { systemClock, type Clock } from './clock.js';
import { fromCommandInt, fromCommandLong, handleCommand, type CommandContext, type SimCommand } from './commands.js';
import { isMessage, readMessage, type Frame } from './frames.js';
import { Impairments, type ImpairmentUpdate } from './impairments.js';
import { parseSimLink, type SimLinkSpec } from './link-spec.js';
import { commandAck, heartbeat, statusText } from './messages.js';
import { MessageStreams } from './message-streams.js';
import type { FcSim, FcSimEvents, FcSimOptions } from './fc-sim-types.js';
import { MountModel } from './mount.js';
import { SIM_DEFAULT_OVERRIDES, SIM_PARAM_DEFS } from './param-defaults.js';
import { ParamServer } from './param-server.js';
import { ParamStore } from './param-store.js';
import { SimSigning } from './signing.js';
import { createTransport, type SimPeer, type SimTransport } from './transport.js';

const BANNER = ['ArduCopter V4.7.0-dev (fc-sim)', 'Frame: QUAD/X'];

/** Start a simulated ArduCopter serving `opts.link`; resolves once it is listening. */
export async function startFcSim(opts: FcSimOptions): Promise<FcSim> {
  const sim = new FcSimImpl(opts);
  await sim.start();
  return sim;
}

type Listener = (...args: unknown[]) => void;

class FcSimImpl implements FcSim {
  private readonly spec: SimLinkSpec;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly events = new EventEmitter();
  private readonly store: ParamStore;
  private readonly impairments: Impairments;
  private readonly paramServer: ParamServer;
  private readonly mountModel: MountModel;
  private readonly transport: SimTransport;
  private readonly channels = new Map<SimPeer, Channel>();
  private readonly linkStats = emptyStats();
  private readonly paceBaud: number | undefined;
  private readonly rebootDelayMs: number;
  private readonly heartbeatMs: number;
  private readonly streams: MessageStreams;
  private signing: SimSigning | undefined;
  private readonly signingAcceptUnsigned: boolean;
  private readonly greetPeers: boolean;
  private state: 'starting' | 'running' | 'rebooting' | 'stopped' = 'starting';
  private isArmed: boolean;
  private sysid = 1;
  private mountEnabled = false;
  private heartbeatTimer: unknown;
  private readonly sleeps = new Map<unknown, () => void>();
  private rebooting: Promise<void> | undefined;

  constructor(o: FcSimOptions) {
    this.spec = parseSimLink(o.link);
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger ?? pino({ level: 'silent' });
    for (const [k, v] of Object.entries({ baud: o.baud, readLatencyMs: o.readLatencyMs, rebootDelayMs: o.rebootDelayMs, heartbeatMs: o.heartbeatMs, mountSlewDegS: o.mountSlewDegS })) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${k} must be a number ≥ 0, got ${v}`);
    }
    if (o.systemId !== undefined && !(Number.isInteger(o.systemId) && o.systemId >= 1 && o.systemId <= 255)) throw new RangeError(`systemId must be 1..255, got ${o.systemId}`);
    this.paceBaud = o.baudLimit ? (o.baud ?? (this.spec.kind === 'serial' ? this.spec.baud : undefined)) : undefined;
    if (o.baudLimit && this.paceBaud === undefined) this.logger.warn('fc-sim: --baud-limit on a network link without a baud rate does nothing');
    this.rebootDelayMs = o.rebootDelayMs ?? (this.spec.kind === 'serial' ? 1200 : 2400);
    this.heartbeatMs = o.heartbeatMs ?? 1000;
    this.greetPeers = o.heartbeatOnConnect ?? true;
    this.isArmed = o.armed ?? false;
    this.signingAcceptUnsigned = o.signingAcceptUnsigned ?? false;
    this.signing = o.signingKey === undefined ? undefined : new SimSigning(o.signingKey, { acceptUnsigned: this.signingAcceptUnsigned });
    this.impairments = new Impairments({ loss: o.loss, corrupt: o.corrupt, latencyMs: o.latencyMs, freezeAfter: o.freezeAfter }, o.random);
    this.store = new ParamStore(SIM_PARAM_DEFS, {
      overrides: { ...SIM_DEFAULT_OVERRIDES, ...(o.systemId === undefined ? {} : { MAV_SYSID: o.systemId }), ...o.params },
      file: o.paramsFile,
    });
    this.mountModel = new MountModel({ param: (n) => this.store.get(n) ?? 0, now: () => this.clock.now(), slewDegS: o.mountSlewDegS });
    this.paramServer = new ParamServer({
      store: this.store,
      clock: this.clock,
      readLatencyMs: o.readLatencyMs,
      broadcast: (m) => this.broadcast(m),
      onSet: (name, value) => this.emit('param-set', name, value),
      banner: BANNER,
    });
    this.streams = new MessageStreams({ clock: this.clock, bootedAt: this.clock.now(), armed: () => this.isArmed, mount: () => (this.mountEnabled ? this.mountModel : undefined) });
    const hooks = { onOpen: (p: SimPeer) => this.onPeerOpen(p), onData: (p: SimPeer, b: Buffer) => this.channels.get(p)?.receive(b), onClose: (p: SimPeer) => this.onPeerClose(p) };
    this.transport = o.transport ? o.transport(hooks, this.logger) : createTransport(this.spec, hooks, this.logger);
  }

  async start(): Promise<void> {
    this.boot();
    await this.transport.start();
    this.state = 'running';
    this.beat();
    this.logger.info({ link: this.link, sysid: this.sysid }, 'fc-sim ready');
  }

  get link(): string {
    return this.transport.link;
  }
  get armed(): boolean {
    return this.isArmed;
  }
  get systemId(): number {
    return this.sysid;
  }
  get params(): ReadonlyMap<string, { value: number; type: number }> {
    return this.store.snapshot();
  }
  get stats(): Readonly<LinkStats> {
    return this.linkStats;
  }

  setArmed(armed: boolean): void {
    if (armed === this.isArmed) return;
    this.isArmed = armed;
    this.logger.info({ armed }, 'fc-sim armed state');
    this.emit('armed', armed);
  }

  setImpairments(p: ImpairmentUpdate): void {
    this.impairments.update(p);
    this.logger.info({ impairments: this.impairments.settings }, 'fc-sim impairments');
  }

  getParam(name: string): number | undefined {
    return this.store.get(name);
  }

  setParam(name: string, value: number): void {
    this.store.setLocal(name, value);
  }

  reboot(): Promise<void> {
    this.rebooting ??= this.doReboot().finally(() => (this.rebooting = undefined));
    return this.rebooting;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.clock.clearTimeout(this.heartbeatTimer);
    for (const [timer, wake] of this.sleeps) {
      this.clock.clearTimeout(timer);
      wake();
    }
    this.paramServer.reset();
    for (const ch of this.channels.values()) ch.close();
    await this.transport.stop();
    this.channels.clear();
    this.logger.info('fc-sim stopped');
  }

  on<K extends keyof FcSimEvents>(event: K, fn: (...args: FcSimEvents[K]) => void): this {
    this.events.on(event, fn as Listener);
    return this;
  }
  off<K extends keyof FcSimEvents>(event: K, fn: (...args: FcSimEvents[K]) => void): this {
    this.events.off(event, fn as Listener);
    return this;
  }
  once<K extends keyof FcSimEvents>(event: K, fn: (...args: FcSimEvents[K]) => void): this {
    this.events.once(event, fn as Listener);
    return this;
  }

  private emit<K extends keyof FcSimEvents>(event: K, ...args: FcSimEvents[K]): void {
    this.events.emit(event, ...args);
  }

  /** Power-on state from the parameters: system id, mount backend, disarmed. */
  private boot(): void {
    const sysid = this.store.get('MAV_SYSID') ?? 1;
    this.sysid = sysid >= 1 && sysid <= 255 ? sysid : 1;
    this.mountEnabled = (this.store.get('MNT1_TYPE') ?? 0) !== 0;
    this.mountModel.boot();
    for (const ch of this.channels.values()) ch.setSystemId(this.sysid);
  }

  private async doReboot(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'rebooting';
    this.emit('reboot', 'start');
    this.logger.info('fc-sim rebooting');
    this.paramServer.reset();
    for (const ch of this.channels.values()) {
      ch.dropInbound();
      this.streams.clear(ch);
    }
    // ArduPilot waits 200 ms after the ACK before resetting; let what is already queued leave the wire.
    const drain = Math.max(Math.min(200, this.rebootDelayMs), ...[...this.channels.values()].map((c) => c.drainMs()));
    await this.sleep(drain);
    if (this.state !== 'rebooting') return;
    await this.transport.suspend();
    this.setArmed(false);
    await this.sleep(Math.max(0, this.rebootDelayMs - drain));
    if (this.state !== 'rebooting') return;
    this.boot();
    await this.transport.resume();
    this.state = 'running';
    this.clock.clearTimeout(this.heartbeatTimer);
    this.beat();
    this.logger.info({ link: this.link }, 'fc-sim rebooted');
    this.emit('reboot', 'done');
  }

  /** A timer that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.sleeps.delete(timer);
        resolve();
      }, ms);
      this.sleeps.set(timer, resolve);
    });
  }

  private silent(): boolean {
    return this.state !== 'running' || this.impairments.frozen;
  }

  private beat(): void {
    if (this.state === 'stopped') return;
    this.broadcast(heartbeat(this.isArmed));
    this.heartbeatTimer = this.clock.setTimeout(() => this.beat(), this.heartbeatMs);
  }

  private broadcast(msg: MavLinkData): void {
    for (const ch of this.channels.values()) ch.send(msg);
  }

  private onPeerOpen(peer: SimPeer): void {
    const ch = new Channel({
      peer,
      baud: this.paceBaud,
      sysid: this.sysid,
      impairments: this.impairments,
      clock: this.clock,
      stats: this.linkStats,
      logger: this.logger,
      onFrame: (f) => this.onFrame(ch, f),
      silent: () => this.silent(),
      signing: () => this.signing,
    });
    this.channels.set(peer, ch);
    this.logger.debug({ peer: peer.id }, 'fc-sim peer connected');
    this.emit('peer', 'connect', peer.id);
    // Tests hear from the FC at once; ArduPilot does not greet (its 1 Hz HEARTBEAT comes 0–1 s later).
    if (this.greetPeers) ch.send(heartbeat(this.isArmed));
  }

  private onPeerClose(peer: SimPeer): void {
    const ch = this.channels.get(peer);
    if (ch === undefined) return;
    this.paramServer.stopList(ch);
    ch.close();
    this.channels.delete(peer);
    this.logger.debug({ peer: peer.id }, 'fc-sim peer disconnected');
    this.emit('peer', 'disconnect', peer.id);
  }

  /** Messages addressed to us: broadcast (0) or our system, component 0 or 1 (MAVLink routing). */
  private forUs(targetSystem: number, targetComponent: number): boolean {
    return (targetSystem === 0 || targetSystem === this.sysid) && (targetComponent === 0 || targetComponent === 1);
  }

  private onFrame(ch: Channel, frame: Frame): void {
    if (this.state !== 'running') return;
    if (isMessage(frame, common.ParamSet)) {
      const m = readMessage(frame, common.ParamSet);
      if (!this.forUs(m.targetSystem, m.targetComponent)) return;
      this.linkStats.paramSets++;
      this.paramServer.handleSet(ch, m);
    } else if (isMessage(frame, common.ParamRequestRead)) {
      const m = readMessage(frame, common.ParamRequestRead);
      if (this.forUs(m.targetSystem, m.targetComponent)) this.paramServer.handleRead(ch, m);
    } else if (isMessage(frame, common.ParamRequestList)) {
      const m = readMessage(frame, common.ParamRequestList);
      if (this.forUs(m.targetSystem, m.targetComponent)) this.paramServer.handleList(ch);
    } else if (isMessage(frame, common.CommandLong)) {
      const m = readMessage(frame, common.CommandLong);
      if (this.forUs(m.targetSystem, m.targetComponent)) this.runCommand(ch, frame, fromCommandLong(m));
    } else if (isMessage(frame, common.CommandInt)) {
      const m = readMessage(frame, common.CommandInt);
      if (this.forUs(m.targetSystem, m.targetComponent)) this.runCommand(ch, frame, fromCommandInt(m));
    } else if (isMessage(frame, common.SetupSigning)) {
      const m = readMessage(frame, common.SetupSigning);
      if (this.forUs(m.targetSystem, m.targetComponent)) this.setupSigning(Buffer.from(m.secretKey));
    }
  }

  /** SETUP_SIGNING as SITL takes it: no reply; from now on every frame out is signed; all zeros turns signing off. */
  private setupSigning(key: Buffer): void {
    this.signing = key.length === 32 && key.some((b) => b !== 0) ? new SimSigning(key, { acceptUnsigned: this.signingAcceptUnsigned }) : undefined;
    this.logger.info({ signing: this.signing !== undefined }, 'fc-sim signing key set');
  }

  private runCommand(ch: Channel, frame: Frame, cmd: SimCommand): void {
    const outcome = handleCommand(cmd, this.commandContext(ch));
    outcome.before?.();
    ch.send(commandAck(cmd.command, outcome.result, frame.sysid, frame.compid));
    this.logger.debug({ command: cmd.command, result: outcome.result, peer: ch.peer.id }, 'fc-sim command');
    this.emit('command', cmd.command, cmd.params, outcome.result);
    outcome.after?.();
  }

  private commandContext(ch: Channel): CommandContext {
    return {
      armed: this.isArmed,
      setArmed: (armed) => this.setArmed(armed),
      mount: this.mountEnabled ? this.mountModel : undefined,
      reply: (m) => ch.send(m),
      statusText: (severity, text) => this.broadcast(statusText(severity, text)),
      setMessageInterval: (id, us) => this.streams.setInterval(ch, id, us),
      messageSender: (id) => this.streams.sender(ch, id),
      reboot: () => void this.reboot(),
    };
  }
}
