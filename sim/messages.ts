import { common, minimal, standard } from 'node-mavlink';

// node-mavlink's constructors fill enum fields with enum *names* (strings) that its serializer cannot
// write, so every builder here sets every field.

const NO_FAILURES: number = 0;

/** MAV_SEVERITY values fc-sim uses. */
export const SEVERITY = { WARNING: 4, INFO: 6 } as const;

/** ArduPilot's base_mode on the ground in STABILIZE: MANUAL_INPUT | STABILIZE | CUSTOM_MODE, + SAFETY_ARMED when armed. */
export const BASE_MODE_DISARMED: number = 0x51;
export const BASE_MODE_ARMED: number = 0xd1;

/** AUTOPILOT_VERSION.capabilities as ArduPilot 4.7 reports it: PARAM_FLOAT, neither C_CAST nor BYTEWISE. */
export const ARDUPILOT_CAPABILITIES = 0xfbefn;

/** 4.7.0, FIRMWARE_VERSION_TYPE_DEV (0), packed as ArduPilot packs flight_sw_version. */
export const FLIGHT_SW_VERSION = (4 << 24) | (7 << 16) | (0 << 8) | 0;

export function heartbeat(armed: boolean): minimal.Heartbeat {
  const m = new minimal.Heartbeat();
  m.type = minimal.MavType.QUADROTOR;
  m.autopilot = minimal.MavAutopilot.ARDUPILOTMEGA;
  m.baseMode = armed ? BASE_MODE_ARMED : BASE_MODE_DISARMED;
  m.customMode = 0; // STABILIZE
  m.systemStatus = minimal.MavState.STANDBY; // Copter reports STANDBY while landed, armed or not
  m.mavlinkVersion = 3;
  return m;
}

export function paramValue(name: string, value: number, type: number, count: number, index: number): common.ParamValue {
  const m = new common.ParamValue();
  m.paramId = name;
  m.paramValue = value;
  m.paramType = type;
  m.paramCount = count;
  m.paramIndex = index;
  return m;
}

export function commandAck(command: number, result: number, targetSystem: number, targetComponent: number): common.CommandAck {
  const m = new common.CommandAck();
  m.command = command;
  m.result = result;
  m.progress = 0;
  m.resultParam2 = 0;
  m.targetSystem = targetSystem;
  m.targetComponent = targetComponent;
  return m;
}

export function statusText(severity: number, text: string): common.StatusText {
  const m = new common.StatusText();
  m.severity = severity;
  m.text = text.slice(0, 50);
  m.id = 0;
  m.chunkSeq = 0;
  return m;
}

export function autopilotVersion(): standard.AutopilotVersion {
  const m = new standard.AutopilotVersion();
  // capabilities is a uint64 on the wire (a bigint for the serializer) though the mapping types it as an enum.
  Reflect.set(m, 'capabilities', ARDUPILOT_CAPABILITIES);
  m.flightSwVersion = FLIGHT_SW_VERSION;
  m.middlewareSwVersion = 0;
  m.osSwVersion = 0;
  m.boardVersion = 0;
  m.flightCustomVersion = [...Buffer.from('fcsim000')];
  m.middlewareCustomVersion = [0, 0, 0, 0, 0, 0, 0, 0];
  m.osCustomVersion = [0, 0, 0, 0, 0, 0, 0, 0];
  m.vendorId = 0;
  m.productId = 0;
  m.uid = 0n;
  m.uid2 = new Array<number>(18).fill(0);
  return m;
}

export function gimbalDeviceAttitudeStatus(timeBootMs: number, q: readonly number[], flags: number): common.GimbalDeviceAttitudeStatus {
  const m = new common.GimbalDeviceAttitudeStatus();
  m.targetSystem = 0;
  m.targetComponent = 0;
  m.timeBootMs = timeBootMs >>> 0;
  m.flags = flags;
  m.q = [...q];
  // A servo mount has no rate feedback.
  m.angularVelocityX = Number.NaN;
  m.angularVelocityY = Number.NaN;
  m.angularVelocityZ = Number.NaN;
  m.failureFlags = NO_FAILURES;
  m.deltaYaw = Number.NaN;
  m.deltaYawVelocity = Number.NaN;
  m.gimbalDeviceId = 1;
  return m;
}
