import { ardupilotmega, common, minimal, standard } from 'node-mavlink';

/** The MAVLink messages and enums the link uses, in one place (ids come from the data classes). */
export const Heartbeat = minimal.Heartbeat;
export const ParamValue = common.ParamValue;
export const ParamSet = common.ParamSet;
export const ParamRequestRead = common.ParamRequestRead;
export const CommandLong = common.CommandLong;
export const CommandInt = common.CommandInt;
export const CommandAck = common.CommandAck;
export const StatusText = common.StatusText;
export const GimbalDeviceAttitudeStatus = common.GimbalDeviceAttitudeStatus;
export const AutopilotVersion = standard.AutopilotVersion;
/** ArduPilot's older mount report (pitch/roll/yaw in centidegrees); current ArduPilot no longer sends it. */
export const MountStatus = ardupilotmega.MountStatus;

export const MavCmd = common.MavCmd;
export const MavResult = common.MavResult;
export const MavType = minimal.MavType;
export const MavAutopilot = minimal.MavAutopilot;
export const MavState = minimal.MavState;
export const MavModeFlag = minimal.MavModeFlag;
export const MavComponent = minimal.MavComponent;
export const MavFrame = common.MavFrame;
export const MavProtocolCapability = standard.MavProtocolCapability;

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
