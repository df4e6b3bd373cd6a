import type { CommandOptions, CommandOutcome, CommandSender } from './command.js';
import type { LinkCore } from './link-core.js';
import { GimbalDeviceAttitudeStatus, GimbalManagerFlag, MAV_MOUNT_MODE_MAVLINK_TARGETING, MavCmd, MavFrame, MountStatus } from './messages.js';
import { OpScope } from './op-scope.js';

export interface PointCommand {
  pitchDeg: number;
  yawDeg: number;
  yawFrame: 'vehicle' | 'earth';
  /** Gimbal device id; 0 = the primary gimbal (ArduPilot also takes 1 for MNT1). */
  gimbalId: number;
}

export interface GimbalResult {
  result: CommandOutcome;
  via: 'gimbal-manager' | 'mount-control';
  attempts: number;
  /** Why a fallback was or was not taken, when it matters to an operator. */
  note?: string;
}

export interface RoiResult {
  result: CommandOutcome;
  via: 'command-int' | 'command-long';
  attempts: number;
}

export interface GimbalAttitude {
  rollDeg: number;
  pitchDeg: number;
  yawDeg: number;
  /** GIMBAL_DEVICE_FLAGS as reported (ArduPilot servo mount: 44, or 46 in neutral). */
  flags: number;
  gimbalDeviceId: number;
  at: number;
}

/** How often GIMBAL_DEVICE_ATTITUDE_STATUS is asked for while waiting for the gimbal (10 Hz). */
const ATTITUDE_INTERVAL_US = 100_000;

/**
 * Gimbal commands behind one interface: gimbal protocol v2 (DO_GIMBAL_MANAGER_PITCHYAW) first, the
 * v1 mount command (DO_MOUNT_CONTROL) when v2 is unsupported; ROI by DO_SET_ROI_LOCATION; attitude
 * confirmation from GIMBAL_DEVICE_ATTITUDE_STATUS.
 */
export class GimbalClient {
  private lastAttitude: GimbalAttitude | undefined;
  private readonly attitudeWaiters = new Set<(a: GimbalAttitude) => void>();

  constructor(
    private readonly core: LinkCore,
    private readonly commands: CommandSender,
  ) {
    core.subscribe(GimbalDeviceAttitudeStatus.MSG_ID, (f) => {
      const m = f.decode(GimbalDeviceAttitudeStatus);
      const [w = 1, x = 0, y = 0, z = 0] = m.q;
      this.onAttitude({ ...quaternionToEulerDeg(w, x, y, z), flags: m.flags, gimbalDeviceId: m.gimbalDeviceId, at: Date.now() });
    });
    // Older firmware reports the mount in MOUNT_STATUS instead; take it when it comes (never asked for:
    // current ArduPilot DENIES an interval for it).
    core.subscribe(MountStatus.MSG_ID, (f) => {
      const m = f.decode(MountStatus);
      this.onAttitude({ pitchDeg: m.pointingA / 100, rollDeg: m.pointingB / 100, yawDeg: m.pointingC / 100, flags: 0, gimbalDeviceId: 0, at: Date.now() });
    });
  }

  private onAttitude(a: GimbalAttitude): void {
    this.lastAttitude = a;
    for (const fn of [...this.attitudeWaiters]) fn(a);
  }

  /** The last GIMBAL_DEVICE_ATTITUDE_STATUS (or MOUNT_STATUS) seen, if any. */
  attitude(): GimbalAttitude | undefined {
    return this.lastAttitude;
  }

  /**
   * Point the gimbal. Earth-frame yaw sets GIMBAL_MANAGER_FLAGS_YAW_LOCK (what ArduPilot reads) and
   * YAW_IN_EARTH_FRAME. DO_MOUNT_CONTROL can only aim in the vehicle frame (ArduPilot takes its yaw as
   * body-frame), so an earth-frame request is not downgraded to it: it stays `unsupported`.
   */
  async point(cmd: PointCommand, opts: CommandOptions = {}): Promise<GimbalResult> {
    const earth = cmd.yawFrame === 'earth';
    const flags = earth ? GimbalManagerFlag.YAW_LOCK | GimbalManagerFlag.YAW_IN_EARTH_FRAME : GimbalManagerFlag.YAW_IN_VEHICLE_FRAME;
    const v2 = await this.commands.send(
      { command: MavCmd.DO_GIMBAL_MANAGER_PITCHYAW, params: [cmd.pitchDeg, cmd.yawDeg, Number.NaN, Number.NaN, flags, 0, cmd.gimbalId] },
      opts,
    );
    if (v2.result !== 'unsupported') return { result: v2.result, via: 'gimbal-manager', attempts: v2.attempts };
    if (earth) return { result: 'unsupported', via: 'gimbal-manager', attempts: v2.attempts, note: 'no gimbal manager; DO_MOUNT_CONTROL cannot hold an earth-frame yaw' };
    const v1 = await this.commands.send(
      { command: MavCmd.DO_MOUNT_CONTROL, params: [cmd.pitchDeg, 0, cmd.yawDeg, 0, 0, 0, MAV_MOUNT_MODE_MAVLINK_TARGETING] },
      opts,
    );
    return { result: v1.result, via: 'mount-control', attempts: v2.attempts + v1.attempts, note: 'gimbal manager unsupported' };
  }

  /**
   * Point at a location: DO_SET_ROI_LOCATION as COMMAND_INT (lat/lon to 1e-7°, altitude relative to
   * home), or as COMMAND_LONG when the FC wants that. Gimbal id 0 = all gimbals.
   */
  async roi(p: { latDeg: number; lonDeg: number; altM: number; gimbalId?: number }, opts: CommandOptions = {}): Promise<RoiResult> {
    const gimbal = p.gimbalId ?? 0;
    const asInt = await this.commands.send(
      {
        command: MavCmd.DO_SET_ROI_LOCATION,
        params: [gimbal, 0, 0, 0],
        int: { frame: MavFrame.GLOBAL_RELATIVE_ALT_INT, x: p.latDeg * 1e7, y: p.lonDeg * 1e7, z: p.altM },
      },
      opts,
    );
    if (asInt.result !== 'command-long-only' && asInt.result !== 'unsupported' && asInt.result !== 'timeout') {
      return { result: asInt.result, via: 'command-int', attempts: asInt.attempts };
    }
    const asLong = await this.commands.send({ command: MavCmd.DO_SET_ROI_LOCATION, params: [gimbal, 0, 0, 0, p.latDeg, p.lonDeg, p.altM] }, opts);
    return { result: asLong.result, via: 'command-long', attempts: asInt.attempts + asLong.attempts };
  }

  /** Stop pointing at a location (DO_SET_ROI_NONE); the mount returns to its default mode. */
  async clearRoi(opts: CommandOptions & { gimbalId?: number } = {}): Promise<{ result: CommandOutcome; attempts: number }> {
    const r = await this.commands.send({ command: MavCmd.DO_SET_ROI_NONE, params: [opts.gimbalId ?? 0, 0, 0, 0, 0, 0, 0] }, opts);
    return { result: r.result, attempts: r.attempts };
  }

  /**
   * Ask for GIMBAL_DEVICE_ATTITUDE_STATUS (not streamed by ArduPilot by default) and resolve true once
   * the gimbal's pitch and yaw are within `toleranceDeg` of the target, false at `timeoutMs`. The stream
   * is switched off again afterwards: at 57600 baud 10 Hz of it is a tenth of the link.
   */
  async waitForAttitude(target: { pitchDeg: number; yawDeg: number }, opts: { toleranceDeg: number; timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    const scope = new OpScope(this.core, 'gimbal attitude', opts.signal);
    try {
      scope.check();
      const close = (a: GimbalAttitude) =>
        Math.abs(a.pitchDeg - target.pitchDeg) <= opts.toleranceDeg && Math.abs(angleDiffDeg(a.yawDeg, target.yawDeg)) <= opts.toleranceDeg;
      const reached = new Promise<boolean>((resolve, reject) => {
        const finish = (v: boolean | Error) => {
          this.attitudeWaiters.delete(onAttitude);
          scope.signal.removeEventListener('abort', onAbort);
          if (v instanceof Error) reject(v);
          else resolve(v);
        };
        const onAttitude = (a: GimbalAttitude) => {
          if (close(a)) finish(true);
        };
        const onAbort = () => finish(scope.signal.reason as Error);
        this.attitudeWaiters.add(onAttitude);
        scope.signal.addEventListener('abort', onAbort, { once: true });
        scope.setTimer(opts.timeoutMs, () => finish(false));
      });
      void this.setAttitudeInterval(ATTITUDE_INTERVAL_US, scope.signal);
      try {
        return await reached;
      } finally {
        if (!scope.aborted) void this.setAttitudeInterval(-1).catch(() => undefined);
      }
    } finally {
      scope.dispose();
    }
  }

  private async setAttitudeInterval(intervalUs: number, signal?: AbortSignal): Promise<void> {
    await this.commands
      .send({ command: MavCmd.SET_MESSAGE_INTERVAL, params: [GimbalDeviceAttitudeStatus.MSG_ID, intervalUs, 0, 0, 0, 0, 0] }, { timeoutMs: 500, retries: 3, signal })
      .catch(() => undefined);
  }
}

/** Aerospace ZYX Euler angles in degrees from a unit quaternion [w, x, y, z]. */
export function quaternionToEulerDeg(w: number, x: number, y: number, z: number): { rollDeg: number; pitchDeg: number; yawDeg: number } {
  const deg = 180 / Math.PI;
  const roll = Math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y));
  const pitch = Math.asin(Math.max(-1, Math.min(1, 2 * (w * y - z * x))));
  const yaw = Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
  return { rollDeg: roll * deg, pitchDeg: pitch * deg, yawDeg: yaw * deg };
}

/** a − b wrapped into (−180, 180]. */
export function angleDiffDeg(a: number, b: number): number {
  let d = (a - b) % 360;
  if (d > 180) d -= 360;
  if (d <= -180) d += 360;
  return d;
}
