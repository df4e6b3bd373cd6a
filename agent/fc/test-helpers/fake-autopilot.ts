import { createServer, type Server, type Socket } from 'node:net';
import {
  MavLinkPacketParser,
  MavLinkPacketSplitter,
  MavLinkProtocolV2,
  common,
  minimal,
  standard,
  x25crc,
  type MavLinkData,
  type MavLinkPacket,
} from 'node-mavlink';
import { MAV_PARAM_TYPE, type ParamType } from '../../../protocol/param-table.js';
import { expectedValue, readParamValue, writeParamValue, type ParamEncoding } from '../param-encoding.js';

/**
 * A small in-test autopilot over TCP, for the link's unit tests (fc-sim in sim/ is the faithful one).
 * Behaviours are plain mutable fields so a test can flip them mid-run: silence, dropping every Nth
 * frame each way (MAVSDK's lossy system test), stale echoes, denied writes, gimbal answers.
 */
export interface FakeParam {
  value: number;
  type: ParamType;
  readOnly?: boolean;
}

export interface FakeBehaviour {
  /** Answer nothing at all, not even heartbeats (the timeout path). */
  silent: boolean;
  /** Send heartbeats but ignore everything else. */
  deaf: boolean;
  /** Drop every Nth frame in each direction (0 = none). */
  dropEvery: number;
  /** Before storing a PARAM_SET, echo the value held before (a stale echo already in the pipe). */
  staleEchoFirst: boolean;
  /** Store (and echo) the sent value plus this: an FC that adjusts what it is given, for mismatch. */
  echoOffset: number;
  /** Drop the next N echoes of a PARAM_SET of this name (the set itself is stored). */
  dropEchoes: Record<string, number>;
  /** Read-only parameters answer with the old value but no STATUSTEXT (a lost STATUSTEXT). */
  silentDenial: boolean;
  /** Answer PARAM_REQUEST_READ after this many ms. */
  readLatencyMs: number;
  /** DO_GIMBAL_MANAGER_PITCHYAW: answer UNSUPPORTED (no gimbal manager). */
  noGimbalManager: boolean;
  /** Answer this many gimbal commands TEMPORARILY_REJECTED first. */
  tempRejects: number;
  /** Answer gimbal commands IN_PROGRESS first, the final ACCEPTED after this many ms (0 = off). */
  inProgressMs: number;
  /** Heartbeat period. */
  heartbeatMs: number;
  armed: boolean;
}

export interface FakeAutopilotOptions {
  systemId?: number;
  autopilot?: number;
  capabilities?: bigint;
  params?: Record<string, FakeParam>;
  behaviour?: Partial<FakeBehaviour>;
  /** Answer AUTOPILOT_VERSION requests (default true). */
  answersVersion?: boolean;
  /** Check incoming signatures with this key (counted in stats) and sign outgoing frames when `signOutgoing`. */
  signingKey?: Buffer;
  signOutgoing?: boolean;
}

export interface FakeStats {
  paramSets: number;
  /** Every PARAM_SET received, in order, with its arrival time. */
  paramSetLog: { name: string; at: number }[];
  paramReads: number;
  commands: { command: number; params: number[]; viaInt: boolean }[];
  framesIn: number;
  droppedIn: number;
  droppedOut: number;
  /** HEARTBEATs received: who the link says it is. */
  heartbeats: { sysid: number; compid: number; type: number; autopilot: number; mavlinkV2: boolean }[];
  /** Incoming frames that carried a MAVLink 2 signature, and how many of those matched our key. */
  signedIn: number;
  signatureOk: number;
}

export const DEFAULT_FAKE_PARAMS: Record<string, FakeParam> = {
  MNT1_TYPE: { value: 1, type: 'INT8' },
  MNT1_DEFLT_MODE: { value: 3, type: 'INT8' },
  MNT1_RC_RATE: { value: 0, type: 'INT16' },
  MNT1_PITCH_MIN: { value: -90, type: 'INT16' },
  MNT1_PITCH_MAX: { value: 20, type: 'INT16' },
  MNT1_YAW_MIN: { value: -180, type: 'INT16' },
  MNT1_YAW_MAX: { value: 180, type: 'INT16' },
  MNT1_NEUTRAL_X: { value: 0, type: 'REAL32' },
  MNT1_NEUTRAL_Y: { value: 0, type: 'REAL32' },
  MNT1_NEUTRAL_Z: { value: 0, type: 'REAL32' },
  MNT1_LEAD_PTCH: { value: 0, type: 'REAL32' },
  MNT1_DEVID: { value: 197121, type: 'INT32', readOnly: true },
  BIG_INT32: { value: 0, type: 'INT32' },
};

export class FakeAutopilot {
  readonly params = new Map<string, FakeParam>();
  readonly behaviour: FakeBehaviour;
  readonly stats: FakeStats = { paramSets: 0, paramSetLog: [], paramReads: 0, commands: [], framesIn: 0, droppedIn: 0, droppedOut: 0, heartbeats: [], signedIn: 0, signatureOk: 0 };
  readonly systemId: number;
  readonly autopilot: number;
  readonly capabilities: bigint;
  readonly answersVersion: boolean;
  readonly signingKey: Buffer | undefined;
  readonly signOutgoing: boolean;
  port = 0;
  private readonly server: Server;
  private readonly clients = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private hbTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private inCount = 0;
  private outCount = 0;
  private streamTimer: NodeJS.Timeout | undefined;
  private gimbal = { pitch: 0, yaw: 0 };

  constructor(opts: FakeAutopilotOptions = {}) {
    this.systemId = opts.systemId ?? 1;
    this.autopilot = opts.autopilot ?? minimal.MavAutopilot.ARDUPILOTMEGA;
    this.capabilities = opts.capabilities ?? 0xfbefn;
    this.answersVersion = opts.answersVersion ?? true;
    this.signingKey = opts.signingKey;
    this.signOutgoing = opts.signOutgoing ?? false;
    for (const [k, v] of Object.entries(opts.params ?? DEFAULT_FAKE_PARAMS)) this.params.set(k, { ...v });
    this.behaviour = {
      silent: false,
      deaf: false,
      dropEvery: 0,
      staleEchoFirst: false,
      echoOffset: 0,
      dropEchoes: {},
      silentDenial: false,
      readLatencyMs: 0,
      noGimbalManager: false,
      tempRejects: 0,
      inProgressMs: 0,
      heartbeatMs: 1000,
      armed: false,
      ...opts.behaviour,
    };
    this.server = createServer((sock) => this.onClient(sock));
  }

  get encoding(): ParamEncoding {
    return this.autopilot === minimal.MavAutopilot.PX4 ? 'bytewise' : 'c-cast';
  }

  /** Connected clients right now. */
  get clientCount(): number {
    return this.clients.size;
  }

  get link(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    this.restartHeartbeat();
    return this;
  }

  restartHeartbeat(): void {
    clearInterval(this.hbTimer);
    this.hbTimer = setInterval(() => this.heartbeat(), this.behaviour.heartbeatMs);
  }

  /** Drop every connected client (a TCP peer closing, an FC reboot). */
  dropClients(): void {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
  }

  async stop(): Promise<void> {
    clearInterval(this.hbTimer);
    clearInterval(this.streamTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropClients();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onClient(sock: Socket): void {
    this.clients.add(sock);
    sock.setNoDelay(true);
    const splitter = new MavLinkPacketSplitter();
    const parser = new MavLinkPacketParser();
    sock.pipe(splitter).pipe(parser);
    parser.on('data', (p: MavLinkPacket) => this.onPacket(p));
    sock.on('close', () => {
      this.clients.delete(sock);
      splitter.destroy();
      parser.destroy();
    });
    sock.on('error', () => undefined);
    this.heartbeat();
  }

  private send(msg: MavLinkData, patch?: (payload: Buffer) => void): void {
    if (this.behaviour.silent) return;
    const sign = this.signOutgoing && this.signingKey !== undefined;
    const proto = new MavLinkProtocolV2(this.systemId, 1, sign ? MavLinkProtocolV2.IFLAG_SIGNED : 0);
    let buf = proto.serialize(msg, this.seq);
    this.seq = (this.seq + 1) & 0xff;
    if (patch) {
      patch(buf.subarray(10, 10 + buf.readUInt8(1)));
      const magic = (msg.constructor as unknown as { MAGIC_NUMBER: number }).MAGIC_NUMBER;
      buf.writeUInt16LE(x25crc(buf, 1, 2, magic), buf.length - 2);
    }
    if (sign && this.signingKey !== undefined) buf = proto.sign(buf, 0, this.signingKey, Date.now() + this.seq);
    // Lost on the wire after it was numbered, so the receiver sees the sequence gap.
    this.outCount++;
    if (this.behaviour.dropEvery > 0 && this.outCount % this.behaviour.dropEvery === 0) {
      this.stats.droppedOut++;
      return;
    }
    for (const c of this.clients) c.write(buf);
  }

  heartbeat(): void {
    const hb = new minimal.Heartbeat();
    hb.type = minimal.MavType.QUADROTOR;
    hb.autopilot = this.autopilot;
    hb.baseMode = (this.behaviour.armed ? 0xd1 : 0x51) as typeof hb.baseMode;
    hb.customMode = 0;
    hb.systemStatus = minimal.MavState.STANDBY;
    hb.mavlinkVersion = 3;
    this.send(hb);
  }

  statustext(severity: number, text: string): void {
    const m = new common.StatusText();
    m.severity = severity;
    m.text = text;
    this.send(m);
  }

  /** Send a PARAM_VALUE (index 65535, like a by-name reply). */
  paramValue(name: string, value?: number): void {
    const p = this.params.get(name);
    if (p === undefined) return;
    const v = value ?? p.value;
    const m = new common.ParamValue();
    m.paramId = name;
    m.paramValue = v;
    m.paramType = MAV_PARAM_TYPE[p.type];
    m.paramCount = this.params.size;
    m.paramIndex = 65535;
    this.send(m, this.encoding === 'bytewise' ? (pl) => writeParamValue(pl, v, p.type, 'bytewise') : undefined);
  }

  private onPacket(p: MavLinkPacket): void {
    if (this.behaviour.silent) return;
    this.inCount++;
    if (this.behaviour.dropEvery > 0 && this.inCount % this.behaviour.dropEvery === 0) {
      this.stats.droppedIn++;
      return;
    }
    this.stats.framesIn++;
    if (p.signature !== null) {
      this.stats.signedIn++;
      if (this.signingKey !== undefined && p.signature.matches(this.signingKey)) this.stats.signatureOk++;
    }
    if (p.header.msgid === minimal.Heartbeat.MSG_ID) {
      const hb = p.protocol.data(p.payload, minimal.Heartbeat);
      this.stats.heartbeats.push({ sysid: p.header.sysid, compid: p.header.compid, type: hb.type, autopilot: hb.autopilot, mavlinkV2: p.header.magic === 0xfd });
      return;
    }
    if (this.behaviour.deaf) {
      if (p.header.msgid === common.ParamSet.MSG_ID) this.logParamSet(p.protocol.data(p.payload, common.ParamSet).paramId);
      return;
    }
    switch (p.header.msgid) {
      case common.ParamSet.MSG_ID:
        return this.onParamSet(p);
      case common.ParamRequestRead.MSG_ID: {
        const m = p.protocol.data(p.payload, common.ParamRequestRead);
        this.stats.paramReads++;
        const name = m.paramId;
        if (this.behaviour.readLatencyMs > 0) this.later(this.behaviour.readLatencyMs, () => this.paramValue(name));
        else this.paramValue(name);
        return;
      }
      case common.CommandLong.MSG_ID: {
        const m = p.protocol.data(p.payload, common.CommandLong);
        return this.onCommand(m.command, [m._param1, m._param2, m._param3, m._param4, m._param5, m._param6, m._param7], false);
      }
      case common.CommandInt.MSG_ID: {
        const m = p.protocol.data(p.payload, common.CommandInt);
        return this.onCommand(m.command, [m._param1, m._param2, m._param3, m._param4, m._param5, m._param6, m._param7], true);
      }
    }
  }

  private onParamSet(p: MavLinkPacket): void {
    const m = p.protocol.data(p.payload, common.ParamSet);
    this.logParamSet(m.paramId);
    const param = this.params.get(m.paramId);
    if (param === undefined) return; // ArduPilot: silence for unknown names
    const sent = readParamValue(p.payload.subarray(0, 4), m.paramType, this.encoding);
    if (Number.isNaN(sent)) return;
    if (param.readOnly) {
      this.paramValue(m.paramId);
      if (!this.behaviour.silentDenial) this.statustext(4, `Param write denied (${m.paramId})`);
      return;
    }
    if (this.behaviour.staleEchoFirst) this.paramValue(m.paramId);
    param.value = expectedValue(sent, param.type, this.encoding) + this.behaviour.echoOffset;
    const echo = (name: string) => {
      const drop = this.behaviour.dropEchoes[name] ?? 0;
      if (name === m.paramId && drop > 0) this.behaviour.dropEchoes[name] = drop - 1;
      else this.paramValue(name);
    };
    // ArduPilot: setting the X of a vector parameter echoes X, Y and Z.
    if (m.paramId.endsWith('_X') && this.params.has(m.paramId.slice(0, -1) + 'Y')) {
      for (const axis of ['X', 'Y', 'Z']) echo(m.paramId.slice(0, -1) + axis);
    } else echo(m.paramId);
  }

  private logParamSet(name: string): void {
    this.stats.paramSets++;
    this.stats.paramSetLog.push({ name, at: Date.now() });
  }

  private ack(command: number, result: number): void {
    const a = new common.CommandAck();
    a.command = command;
    a.result = result;
    a.targetSystem = 0;
    a.targetComponent = 0;
    this.send(a);
  }

  private onCommand(command: number, params: number[], viaInt: boolean): void {
    this.stats.commands.push({ command, params, viaInt });
    const R = common.MavResult;
    const C = common.MavCmd;
    switch (command) {
      case C.REQUEST_MESSAGE:
      case C.REQUEST_AUTOPILOT_CAPABILITIES: {
        if (!this.answersVersion) return this.ack(command, R.UNSUPPORTED);
        if (command === C.REQUEST_MESSAGE && params[0] !== standard.AutopilotVersion.MSG_ID) return this.ack(command, R.DENIED);
        this.ack(command, R.ACCEPTED);
        const v = new standard.AutopilotVersion();
        v.capabilities = this.capabilities as unknown as typeof v.capabilities;
        v.flightSwVersion = (4 << 24) | (7 << 16) | (0 << 8) | 0;
        v.uid = 0n;
        return this.send(v);
      }
      case C.SET_MESSAGE_INTERVAL: {
        this.ack(command, R.ACCEPTED);
        clearInterval(this.streamTimer);
        this.streamTimer = undefined;
        if ((params[1] ?? -1) > 0) this.streamTimer = setInterval(() => this.attitude(), Math.max(10, (params[1] ?? 0) / 1000));
        return;
      }
      case C.DO_GIMBAL_MANAGER_PITCHYAW:
      case C.DO_MOUNT_CONTROL: {
        if (command === C.DO_GIMBAL_MANAGER_PITCHYAW && this.behaviour.noGimbalManager) return this.ack(command, R.UNSUPPORTED);
        if (this.behaviour.tempRejects > 0) {
          this.behaviour.tempRejects--;
          return this.ack(command, R.TEMPORARILY_REJECTED);
        }
        const pitch = params[0] ?? 0;
        const yaw = command === C.DO_GIMBAL_MANAGER_PITCHYAW ? (params[1] ?? 0) : (params[2] ?? 0);
        const accept = () => {
          this.gimbal = { pitch: Math.max(-90, Math.min(20, pitch)), yaw };
          this.ack(command, R.ACCEPTED);
        };
        if (this.behaviour.inProgressMs > 0) {
          this.ack(command, R.IN_PROGRESS);
          this.later(this.behaviour.inProgressMs, accept);
        } else accept();
        return;
      }
      case C.DO_SET_ROI_LOCATION:
      case C.DO_SET_ROI_NONE:
        return this.ack(command, R.ACCEPTED);
      default:
        return this.ack(command, R.UNSUPPORTED);
    }
  }

  private attitude(): void {
    const m = new common.GimbalDeviceAttitudeStatus();
    const r = Math.PI / 180;
    const [p, y] = [this.gimbal.pitch * r, this.gimbal.yaw * r];
    // Quaternion for roll 0, pitch p, yaw y (ZYX).
    const [cy, sy, cp, sp] = [Math.cos(y / 2), Math.sin(y / 2), Math.cos(p / 2), Math.sin(p / 2)];
    m.q = [cy * cp, -sy * sp, cy * sp, sy * cp];
    m.flags = 44 as typeof m.flags;
    m.gimbalDeviceId = 1;
    m.angularVelocityX = Number.NaN;
    m.angularVelocityY = Number.NaN;
    m.angularVelocityZ = Number.NaN;
    this.send(m);
  }
}

export async function startFakeAutopilot(opts: FakeAutopilotOptions = {}): Promise<FakeAutopilot> {
  return new FakeAutopilot(opts).start();
}
