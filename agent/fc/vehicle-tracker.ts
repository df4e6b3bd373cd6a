import { MavAutopilot, MavModeFlag, MavType } from './messages.js';

/** The flight controller as its HEARTBEAT describes it. */
export interface Vehicle {
  systemId: number;
  componentId: number;
  /** MAV_AUTOPILOT (3 = ArduPilot, 12 = PX4). */
  autopilot: number;
  /** MAV_TYPE (2 = quadrotor). */
  type: number;
  armed: boolean;
  baseMode: number;
  customMode: number;
  systemStatus: number;
}

export interface HeartbeatFields {
  type: number;
  autopilot: number;
  baseMode: number;
  customMode: number;
  systemStatus: number;
}

/** The timer functions the tracker uses; tests pass fake ones. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => Date.now(),
};

export interface TrackerEvents {
  onUp(v: Vehicle): void;
  onDown(reason: string): void;
  onHeartbeat(v: Vehicle): void;
  onArmed(armed: boolean): void;
}

// Heartbeats from these are other components on the same bus (us, a GCS, a gimbal, a camera), never the FC.
const NOT_AN_FC = new Set<number>([
  MavType.GCS,
  MavType.ONBOARD_CONTROLLER,
  MavType.GIMBAL,
  MavType.CAMERA,
  MavType.ADSB,
  MavType.ANTENNA_TRACKER,
  MavType.SERVO,
  MavType.ODID,
  MavType.BATTERY,
]);

/**
 * Which heartbeat is the flight controller, whether it is alive, and its armed flag. A HEARTBEAT makes
 * it up; it stays up while any valid frame from it keeps arriving within `timeoutMs` (3 s by default, as
 * MAVSDK's 3 missed beats): on a lossy link the PARAM_VALUEs and acks it is sending prove it alive as
 * well as a heartbeat that happened to be corrupted. A silent FC or a closed transport makes it down,
 * and a different FC may then be picked up.
 */
export class VehicleTracker {
  private current: Vehicle | undefined;
  private alive = false;
  private lastAt: number | undefined;
  private lastFrameAt: number | undefined;
  private timer: unknown;

  constructor(
    private readonly timeoutMs: number,
    private readonly events: TrackerEvents,
    private readonly timers: Timers = realTimers,
  ) {}

  get vehicle(): Vehicle | undefined {
    return this.current;
  }

  get up(): boolean {
    return this.alive;
  }

  /** Milliseconds since the FC's last HEARTBEAT, or null before the first one. */
  heartbeatAgeMs(): number | null {
    return this.lastAt === undefined ? null : this.timers.now() - this.lastAt;
  }

  /** True when a frame from (sysid, compid) comes from the tracked flight controller. */
  isVehicle(sysid: number, compid: number): boolean {
    return this.current !== undefined && this.current.systemId === sysid && this.current.componentId === compid;
  }

  /** Any other valid frame: from the tracked FC while it is up, it counts as a sign of life. */
  handleFrame(sysid: number, compid: number): void {
    if (!this.alive || !this.isVehicle(sysid, compid)) return;
    this.lastFrameAt = this.timers.now();
    this.arm();
  }

  /** Milliseconds since the last valid frame of any kind from the FC while up; null while down. */
  silenceMs(): number | null {
    return this.alive && this.lastFrameAt !== undefined ? this.timers.now() - this.lastFrameAt : null;
  }

  handleHeartbeat(sysid: number, compid: number, hb: HeartbeatFields): void {
    if (hb.autopilot === MavAutopilot.INVALID || NOT_AN_FC.has(hb.type)) return;
    // While one FC is alive, ignore others on the bus; once it is silent a new one may take over.
    if (this.alive && !this.isVehicle(sysid, compid)) return;
    const armed = (hb.baseMode & MavModeFlag.SAFETY_ARMED) !== 0;
    const prev = this.current;
    const same = prev !== undefined && prev.systemId === sysid && prev.componentId === compid;
    this.current = { systemId: sysid, componentId: compid, autopilot: hb.autopilot, type: hb.type, armed, ...pick(hb) };
    this.lastAt = this.timers.now();
    this.lastFrameAt = this.lastAt;
    this.arm();
    const v = this.current;
    if (!this.alive) {
      this.alive = true;
      this.events.onUp(v);
    }
    this.events.onHeartbeat(v);
    if (!same || prev.armed !== armed) this.events.onArmed(armed);
  }

  /** The transport closed: down now, not after the heartbeat timeout. */
  transportClosed(reason: string): void {
    this.disarmTimer();
    this.goDown(reason);
  }

  dispose(): void {
    this.disarmTimer();
    this.alive = false;
  }

  private arm(): void {
    this.disarmTimer();
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.goDown(`no HEARTBEAT or other frame from the flight controller for ${this.timeoutMs} ms`);
    }, this.timeoutMs);
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private goDown(reason: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.events.onDown(reason);
  }
}

function pick(hb: HeartbeatFields): Pick<Vehicle, 'baseMode' | 'customMode' | 'systemStatus'> {
  return { baseMode: hb.baseMode, customMode: hb.customMode, systemStatus: hb.systemStatus };
}
