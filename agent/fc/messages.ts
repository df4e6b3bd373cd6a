/**
 * The MAVLink messages and enums the link uses, in one place (ids come from the data classes). They come
 * from ./dialect.ts, generated from the pinned mavlink-mappings with only what the agent needs.
 * MountStatus is ArduPilot's older mount report (centidegrees); current ArduPilot no longer sends it.
 */
export {
  Heartbeat,
  ParamValue,
  ParamSet,
  ParamRequestRead,
  CommandLong,
  CommandInt,
  CommandAck,
  StatusText,
  GimbalDeviceAttitudeStatus,
  AutopilotVersion,
  MountStatus,
  MavCmd,
  MavResult,
  MavType,
  MavAutopilot,
  MavState,
  MavModeFlag,
  MavComponent,
  MavFrame,
  MavProtocolCapability,
} from './dialect.js';

/** MAV_MOUNT_MODE_MAVLINK_TARGETING: DO_MOUNT_CONTROL's p7 in ArduPilot's reading of the command. */
export const MAV_MOUNT_MODE_MAVLINK_TARGETING = 2;

/** GIMBAL_MANAGER_FLAGS bits (same values as GIMBAL_DEVICE_FLAGS for the low 16). */
export const GimbalManagerFlag = {
  YAW_LOCK: 16,
  YAW_IN_VEHICLE_FRAME: 32,
  YAW_IN_EARTH_FRAME: 64,
} as const;

/** MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST; newer than some generated enums, so spelled out. */
export const CAP_PARAM_ENCODE_C_CAST = 1n << 17n;
export const CAP_PARAM_ENCODE_BYTEWISE = 1n << 4n;
