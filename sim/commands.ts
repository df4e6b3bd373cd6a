import { common, type MavLinkData } from 'node-mavlink';
import { autopilotVersion, SEVERITY } from './messages.js';
import { MountMode, type MountModel } from './mount.js';

const Cmd = common.MavCmd;

export const MAV_RESULT = { ACCEPTED: 0, TEMPORARILY_REJECTED: 1, DENIED: 2, UNSUPPORTED: 3, FAILED: 4 } as const;

/** A command as ArduPilot handles it internally: COMMAND_LONG is converted to COMMAND_INT's shape. */
export interface SimCommand {
  command: number;
  /** param1..param7 as floats (for COMMAND_INT, 5 and 6 are x and y as sent). */
  params: [number, number, number, number, number, number, number];
  /** param5 / param6 as COMMAND_INT integers (lat/lon in degE7 for location commands). */
  x: number;
  y: number;
  /** param7. */
  z: number;
}

/** Commands whose COMMAND_LONG form carries a location in degrees (ArduPilot scales them to degE7). */
const LOCATION_COMMANDS: ReadonlySet<number> = new Set([Cmd.DO_SET_ROI_LOCATION, Cmd.DO_SET_ROI]);

export function fromCommandLong(m: common.CommandLong): SimCommand {
  const params: SimCommand['params'] = [m._param1, m._param2, m._param3, m._param4, m._param5, m._param6, m._param7];
  const location = LOCATION_COMMANDS.has(m.command);
  return {
    command: m.command,
    params,
    x: location ? Math.round(m._param5 * 1e7) : Math.trunc(m._param5) | 0,
    y: location ? Math.round(m._param6 * 1e7) : Math.trunc(m._param6) | 0,
    z: m._param7,
  };
}

export function fromCommandInt(m: common.CommandInt): SimCommand {
  return {
    command: m.command,
    params: [m._param1, m._param2, m._param3, m._param4, m._param5, m._param6, m._param7],
    x: m._param5,
    y: m._param6,
    z: m._param7,
  };
}

/** What the commands can see and do on the simulated vehicle. */
export interface CommandContext {
  readonly armed: boolean;
  setArmed(armed: boolean): void;
  /** The mount backend created at boot; undefined when MNT1_TYPE was 0 then. */
  readonly mount: MountModel | undefined;
  /** Send to the channel the command came from. */
  reply(msg: MavLinkData): void;
  /** STATUSTEXT to every channel. */
  statusText(severity: number, text: string): void;
  /** Start/stop streaming a message on the asking channel; false when the id is not one fc-sim can send. */
  setMessageInterval(msgid: number, intervalUs: number): boolean;
  /** Sends a message once on the asking channel; undefined when the id is not one fc-sim can send. */
  messageSender(msgid: number): (() => void) | undefined;
  /** Reboot, once the ACK is on its way. */
  reboot(): void;
}

export interface CommandOutcome {
  result: number;
  /** Sent before the ACK. */
  before?: () => void;
  /** Run after the ACK is sent. */
  after?: () => void;
}

const ACCEPTED: CommandOutcome = { result: MAV_RESULT.ACCEPTED };
const FAILED: CommandOutcome = { result: MAV_RESULT.FAILED };

/** Answer one command the way ArduCopter 4.7 does (GCS_Common.cpp, GCS_Mavlink.cpp, AP_Mount*.cpp). */
export function handleCommand(c: SimCommand, ctx: CommandContext): CommandOutcome {
  const [p1, p2, p3, p4] = c.params;
  switch (c.command) {
    case Cmd.REQUEST_MESSAGE: {
      const send = ctx.messageSender(Math.trunc(p1));
      return send === undefined ? FAILED : { result: MAV_RESULT.ACCEPTED, after: send };
    }
    case Cmd.REQUEST_AUTOPILOT_CAPABILITIES:
      if (p1 !== 1) return FAILED;
      return { result: MAV_RESULT.ACCEPTED, before: () => ctx.reply(autopilotVersion()) };
    case Cmd.SET_MESSAGE_INTERVAL: {
      const id = Math.trunc(p1);
      if (!ctx.setMessageInterval(id, p2)) {
        ctx.statusText(SEVERITY.INFO, `No ap_message for mavlink id (${id})`);
        return { result: MAV_RESULT.DENIED };
      }
      return ACCEPTED;
    }
    case Cmd.COMPONENT_ARM_DISARM:
      if (p1 === 1 || p1 === 0) {
        ctx.setArmed(p1 === 1);
        return ACCEPTED;
      }
      return { result: MAV_RESULT.UNSUPPORTED };
    case Cmd.PREFLIGHT_REBOOT_SHUTDOWN:
      if (p1 !== 1 && p1 !== 3) return { result: MAV_RESULT.UNSUPPORTED };
      if (ctx.armed) return FAILED;
      return { result: MAV_RESULT.ACCEPTED, after: () => ctx.reboot() };
    case Cmd.DO_SET_ROI_LOCATION:
    case Cmd.DO_SET_ROI: {
      const lat = c.x / 1e7;
      const lon = c.y / 1e7;
      if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) return FAILED;
      // Copter accepts an ROI with or without a mount (it yaws the vehicle when there is none).
      // (0, 0) is how ArduPilot spells "no ROI": back to the default mode.
      if (lat === 0 && lon === 0) ctx.mount?.setMode(ctx.mount.defaultMode);
      else ctx.mount?.setRoi(lat, lon, c.z);
      return ACCEPTED;
    }
    case Cmd.DO_SET_ROI_NONE:
      ctx.mount?.setMode(ctx.mount.defaultMode);
      return ACCEPTED;
    case Cmd.DO_SET_ROI_SYSID:
      return ACCEPTED;
    case Cmd.DO_MOUNT_CONFIGURE:
      if (ctx.mount === undefined) return FAILED;
      ctx.mount.setMode(Math.trunc(p1));
      return ACCEPTED;
    case Cmd.DO_MOUNT_CONTROL:
      return mountControl(c, ctx);
    case Cmd.DO_GIMBAL_MANAGER_PITCHYAW:
      return gimbalManagerPitchYaw(c, ctx, p1, p2, p3, p4);
    case Cmd.DO_GIMBAL_MANAGER_CONFIGURE:
      return mountFor(c.z, ctx) === undefined ? FAILED : ACCEPTED;
    default:
      return { result: MAV_RESULT.UNSUPPORTED };
  }
}

/** AP_Mount::mount_device_from_mavlink_gimbal_id: 0 is the primary mount, n is instance n. Only MNT1 exists. */
function mountFor(gimbalId: number, ctx: CommandContext): MountModel | undefined {
  return gimbalId === 0 || gimbalId === 1 ? ctx.mount : undefined;
}

function gimbalManagerPitchYaw(c: SimCommand, ctx: CommandContext, pitch: number, yaw: number, pitchRate: number, yawRate: number): CommandOutcome {
  const mount = mountFor(c.z, ctx);
  if (mount === undefined) return FAILED;
  const flags = c.x;
  const yawLock = (flags & common.GimbalManagerFlags.YAW_LOCK) !== 0;
  if (flags & common.GimbalManagerFlags.RETRACT) {
    mount.setMode(MountMode.RETRACT);
    return ACCEPTED;
  }
  if (flags & common.GimbalManagerFlags.NEUTRAL) {
    mount.setMode(MountMode.NEUTRAL);
    return ACCEPTED;
  }
  if (!Number.isNaN(pitch) && !Number.isNaN(yaw)) {
    mount.setAngleTarget({ roll: 0, pitch, yaw }, yawLock);
    return ACCEPTED;
  }
  if (!Number.isNaN(pitchRate) && !Number.isNaN(yawRate)) {
    mount.setRateTarget(pitchRate, yawRate, yawLock);
    return ACCEPTED;
  }
  if (Number.isNaN(pitch) && Number.isNaN(yaw) && Number.isNaN(pitchRate) && Number.isNaN(yawRate)) {
    mount.setYawLock(yawLock);
    return ACCEPTED;
  }
  return FAILED;
}

/** AP_Mount_Backend::handle_command_do_mount_control: p7 is the mode. */
function mountControl(c: SimCommand, ctx: CommandContext): CommandOutcome {
  const mount = ctx.mount;
  if (mount === undefined) return FAILED;
  const [pitch, roll, yaw] = c.params;
  const mode = Math.trunc(c.z);
  switch (mode) {
    case MountMode.RETRACT:
    case MountMode.NEUTRAL:
    case MountMode.RC_TARGETING:
    case MountMode.HOME_LOCATION:
      mount.setMode(mode);
      return ACCEPTED;
    case MountMode.MAVLINK_TARGETING:
      // ArduPilot refuses angles that look like centi-degrees.
      if (Math.abs(pitch) > 90 || Math.abs(roll) > 180 || Math.abs(yaw) > 360) {
        ctx.statusText(SEVERITY.WARNING, 'Mount: invalid angle targets');
        return FAILED;
      }
      mount.setAngleTarget({ roll, pitch, yaw }, false);
      return ACCEPTED;
    case MountMode.GPS_POINT:
      if (c.x === 0 && c.y === 0) return FAILED;
      mount.setRoi(c.x / 1e7, c.y / 1e7, c.params[3]);
      return ACCEPTED;
    default:
      return FAILED;
  }
}
