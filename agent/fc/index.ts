/**
 * The flight-controller link: MAVLink 2 over serial / TCP / UDP, verified parameter sets, gimbal commands.
 *
 * @example
 * const link = await openFcLink('serial:/dev/ttyAMA0:921600', { logger });
 * await link.waitForVehicle({ timeoutMs: 10_000 });
 * const results = await link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -90, type: 'INT16' }]);
 * const aim = await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 });
 * await link.close();
 */
export { parseLinkString, formatLinkString, type LinkSpec, type LinkKind } from './link-string.js';
export { openFcLink, FcLink, type FcLinkOptions, type FcLinkEvents, type LinkStatus } from './link.js';
export type { Vehicle } from './vehicle-tracker.js';
export {
  ParamClient,
  DEFAULT_SET_WINDOW,
  NETWORK_SET_WINDOW,
  DEFAULT_READ_WINDOW,
  type ParamOutcome,
  type ParamSetResult,
  type ParamSetItem,
  type ParamSetOptions,
  type ParamReadOptions,
  type ParamValueInfo,
  type ParamClientDefaults,
} from './params.js';
export { GimbalClient, type PointCommand, type GimbalResult, type RoiResult, type GimbalAttitude } from './gimbal.js';
export type { CommandOutcome, CommandOptions, CommandResult, CommandSpec } from './command.js';
export type { AutopilotInfo } from './capabilities.js';
export { chooseEncoding, type ParamEncoding } from './param-encoding.js';
export type { BackoffOptions } from '../backoff.js';
export { checkParamsFit, configPathOf, type FitError, type FitResult } from './param-fit.js';
export { aimFailure } from './aim-outcome.js';
