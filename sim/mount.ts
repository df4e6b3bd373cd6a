/** MAV_MOUNT_MODE values. */
export const MountMode = {
  RETRACT: 0,
  NEUTRAL: 1,
  MAVLINK_TARGETING: 2,
  RC_TARGETING: 3,
  GPS_POINT: 4,
  SYSID_TARGET: 5,
  HOME_LOCATION: 6,
} as const;

/** GIMBAL_DEVICE_FLAGS bits the servo backend reports. */
const FLAG_RETRACT = 1;
const FLAG_NEUTRAL = 2;
const FLAG_ROLL_LOCK = 4;
const FLAG_PITCH_LOCK = 8;
const FLAG_YAW_LOCK = 16;
const FLAG_YAW_IN_VEHICLE_FRAME = 32;
const FLAG_YAW_IN_EARTH_FRAME = 64;

export interface Euler {
  roll: number;
  pitch: number;
  yaw: number;
}

/** Where the simulated vehicle sits: level, nose north, on the ground. */
export interface VehiclePose {
  latDeg: number;
  lonDeg: number;
  altM: number;
}

const AXES = ['roll', 'pitch', 'yaw'] as const;

/**
 * A servo gimbal (MNT1_TYPE=1) as ArduPilot's AP_Mount_Servo drives it: the mode picks a target
 * (retract/neutral angles, a MAVLink angle or rate, an ROI), angle targets are clamped to MNT1_*_MIN/MAX,
 * and the servos slew toward the target at `slewDegS` per axis. Angles in degrees, yaw in body frame
 * (the vehicle faces north, so body and earth yaw agree). The attitude is worked out when asked, from the
 * last target change, so no timer runs.
 */
export class MountModel {
  private readonly param: (name: string) => number;
  private readonly now: () => number;
  private readonly slewDegS: number;
  private readonly pose: VehiclePose;
  private mode: number = MountMode.RC_TARGETING;
  /** Whether the MAVLink/ROI target's yaw is earth-frame. */
  private targetYawLock = false;
  /** RC_TARGETING's own yaw lock (set_yaw_lock: an RC switch, or PITCHYAW with no angles). */
  private rcYawLock = false;
  private from: Euler = { roll: 0, pitch: 0, yaw: 0 };
  private fromT = 0;
  private target: Euler = { roll: 0, pitch: 0, yaw: 0 };
  private rate: { pitch: number; yaw: number } | undefined;

  constructor(opts: { param: (name: string) => number; now: () => number; slewDegS?: number; pose?: VehiclePose }) {
    this.param = opts.param;
    this.now = opts.now;
    this.slewDegS = opts.slewDegS ?? 900;
    this.pose = opts.pose ?? { latDeg: -35.363261, lonDeg: 149.16523, altM: 584 };
  }

  /** Power-on: the default mode from MNT1_DEFLT_MODE, servos where they are. */
  boot(): void {
    this.setMode(this.defaultMode);
  }

  /** MNT1_DEFLT_MODE: where ROI_NONE and a boot put the mount. */
  get defaultMode(): number {
    return this.param('MNT1_DEFLT_MODE');
  }

  get currentMode(): number {
    return this.mode;
  }

  setMode(mode: number): void {
    this.settle();
    this.mode = mode;
    switch (mode) {
      case MountMode.RETRACT:
        this.retarget(this.vectorParam('MNT1_RETRACT'), false);
        break;
      case MountMode.NEUTRAL:
        this.retarget(this.vectorParam('MNT1_NEUTRAL'), false);
        break;
      case MountMode.RC_TARGETING:
        // No RC input: sticks centred, the mount holds level.
        this.retarget(this.clamp({ roll: 0, pitch: 0, yaw: 0 }), false);
        break;
      default:
        break;
    }
  }

  /** An angle target (MAVLINK_TARGETING), clamped to the limits like update_angle_outputs does. */
  setAngleTarget(target: Euler, yawLock: boolean): void {
    this.settle();
    this.mode = MountMode.MAVLINK_TARGETING;
    this.retarget(this.clamp(target), yawLock);
  }

  /** A rate target in deg/s; the target angle integrates it, clamped to the limits. */
  setRateTarget(pitchDegS: number, yawDegS: number, yawLock: boolean): void {
    this.settle();
    this.mode = MountMode.MAVLINK_TARGETING;
    this.retarget(this.from, yawLock);
    this.rate = { pitch: pitchDegS, yaw: yawDegS };
  }

  /** Point at a location (GPS_POINT), as the ROI commands do. */
  setRoi(latDeg: number, lonDeg: number, altM: number): void {
    const north = (latDeg - this.pose.latDeg) * 111_319.5;
    const east = (lonDeg - this.pose.lonDeg) * 111_319.5 * Math.cos((this.pose.latDeg * Math.PI) / 180);
    const up = altM - this.pose.altM;
    const dist = Math.hypot(north, east);
    const deg = (r: number) => (r * 180) / Math.PI;
    this.settle();
    this.mode = MountMode.GPS_POINT;
    this.retarget(this.clamp({ roll: 0, pitch: deg(Math.atan2(up, dist)), yaw: deg(Math.atan2(east, north)) }), true);
  }

  setYawLock(yawLock: boolean): void {
    this.rcYawLock = yawLock;
  }

  /** Current attitude in degrees. */
  attitude(at: number = this.now()): Euler {
    const dt = Math.max(0, (at - this.fromT) / 1000);
    const goal = this.rate === undefined ? this.target : this.clamp({ roll: this.target.roll, pitch: this.target.pitch + this.rate.pitch * dt, yaw: this.target.yaw + this.rate.yaw * dt });
    const step = this.slewDegS * dt;
    const out: Euler = { roll: 0, pitch: 0, yaw: 0 };
    for (const axis of AXES) {
      const d = goal[axis] - this.from[axis];
      out[axis] = Math.abs(d) <= step ? goal[axis] : this.from[axis] + Math.sign(d) * step;
    }
    return out;
  }

  /** Attitude as the quaternion [w, x, y, z] GIMBAL_DEVICE_ATTITUDE_STATUS carries. */
  quaternion(at: number = this.now()): [number, number, number, number] {
    return eulerToQuaternion(this.attitude(at));
  }

  /** GIMBAL_DEVICE_FLAGS as AP_Mount_Backend::get_gimbal_device_flags builds them. */
  flags(): number {
    const yawLocked =
      this.mode === MountMode.GPS_POINT ||
      this.mode === MountMode.SYSID_TARGET ||
      this.mode === MountMode.HOME_LOCATION ||
      (this.mode === MountMode.MAVLINK_TARGETING && this.targetYawLock) ||
      (this.mode === MountMode.RC_TARGETING && this.rcYawLock);
    return (
      (this.mode === MountMode.RETRACT ? FLAG_RETRACT : 0) |
      (this.mode === MountMode.NEUTRAL ? FLAG_NEUTRAL : 0) |
      FLAG_ROLL_LOCK |
      FLAG_PITCH_LOCK |
      (yawLocked ? FLAG_YAW_LOCK | FLAG_YAW_IN_EARTH_FRAME : FLAG_YAW_IN_VEHICLE_FRAME)
    );
  }

  /** Start a new motion from wherever the servos are now. */
  private settle(): void {
    const now = this.now();
    this.from = this.attitude(now);
    this.fromT = now;
    this.target = this.from;
    this.rate = undefined;
  }

  private retarget(target: Euler, yawLock: boolean): void {
    this.target = target;
    this.targetYawLock = yawLock;
  }

  private vectorParam(base: string): Euler {
    return { roll: this.param(`${base}_X`), pitch: this.param(`${base}_Y`), yaw: this.param(`${base}_Z`) };
  }

  private clamp(e: Euler): Euler {
    const c = (v: number, lo: string, hi: string) => Math.min(this.param(hi), Math.max(this.param(lo), v));
    return { roll: c(e.roll, 'MNT1_ROLL_MIN', 'MNT1_ROLL_MAX'), pitch: c(e.pitch, 'MNT1_PITCH_MIN', 'MNT1_PITCH_MAX'), yaw: c(e.yaw, 'MNT1_YAW_MIN', 'MNT1_YAW_MAX') };
  }
}

/** ZYX Euler angles (degrees) to [w, x, y, z], as ArduPilot's Quaternion::from_euler. */
export function eulerToQuaternion(e: Euler): [number, number, number, number] {
  const h = Math.PI / 360;
  const cr = Math.cos(e.roll * h);
  const sr = Math.sin(e.roll * h);
  const cp = Math.cos(e.pitch * h);
  const sp = Math.sin(e.pitch * h);
  const cy = Math.cos(e.yaw * h);
  const sy = Math.sin(e.yaw * h);
  return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy];
}

/** [w, x, y, z] back to Euler degrees, for tests and ground tools. */
export function quaternionToEuler(q: readonly number[]): Euler {
  const [w = 1, x = 0, y = 0, z = 0] = q;
  const deg = 180 / Math.PI;
  return {
    roll: Math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)) * deg,
    pitch: Math.asin(Math.max(-1, Math.min(1, 2 * (w * y - z * x)))) * deg,
    yaw: Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)) * deg,
  };
}
