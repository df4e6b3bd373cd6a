import type { CommandSender } from './command.js';
import type { LinkCore } from './link-core.js';
import { AutopilotVersion, MavCmd } from './messages.js';
import { chooseEncoding, type ParamEncoding } from './param-encoding.js';

/** What AUTOPILOT_VERSION told us. */
export interface AutopilotInfo {
  /** MAV_PROTOCOL_CAPABILITY bits (ArduPilot 4.7: 0xfbef). */
  capabilities: bigint;
  /** `4.7.0-dev` from flight_sw_version. */
  flightSwVersion: string;
  encoding: ParamEncoding;
  /** Which request got the answer. */
  via: 'request-message' | 'request-autopilot-capabilities';
}

const RELEASE: Record<number, string> = { 0: '-dev', 64: '-alpha', 128: '-beta', 192: '-rc', 255: '' };

/** flight_sw_version: major, minor, patch, FIRMWARE_VERSION_TYPE from the high byte down. */
export function formatSwVersion(v: number): string {
  const type = v & 0xff;
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}${RELEASE[type] ?? `-${type}`}`;
}

/**
 * Ask for AUTOPILOT_VERSION with MAV_CMD_REQUEST_MESSAGE(148), falling back to the deprecated
 * MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES for autopilots that predate REQUEST_MESSAGE. Undefined when
 * neither gets an answer. Throws only when the link goes down or closes.
 */
export async function requestAutopilotInfo(
  core: LinkCore,
  commands: CommandSender,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<AutopilotInfo | undefined> {
  const timeoutMs = opts.timeoutMs ?? 1500;
  let got: InstanceType<typeof AutopilotVersion> | undefined;
  let wake: (() => void) | undefined;
  const unsub = core.subscribe(AutopilotVersion.MSG_ID, (frame) => {
    got = frame.decode(AutopilotVersion);
    wake?.();
  });
  const waitMessage = (ms: number) =>
    new Promise<void>((resolve) => {
      if (got !== undefined || opts.signal?.aborted) return resolve();
      const finish = () => {
        core.timers.clearTimeout(t);
        opts.signal?.removeEventListener('abort', finish);
        wake = undefined;
        resolve();
      };
      const t = core.timers.setTimeout(finish, ms);
      wake = finish;
      opts.signal?.addEventListener('abort', finish, { once: true });
    });
  try {
    const tries: [AutopilotInfo['via'], number, number][] = [
      ['request-message', MavCmd.REQUEST_MESSAGE, AutopilotVersion.MSG_ID],
      ['request-autopilot-capabilities', MavCmd.REQUEST_AUTOPILOT_CAPABILITIES, 1],
    ];
    for (const [via, command, p1] of tries) {
      const ack = await commands.send({ command, params: [p1, 0, 0, 0, 0, 0, 0] }, { timeoutMs, retries: 2, signal: opts.signal });
      if (ack.result === 'accepted' || ack.result === 'timeout') await waitMessage(ack.result === 'accepted' ? timeoutMs : 0);
      if (got !== undefined) {
        const v = core.vehicle();
        return {
          capabilities: BigInt(got.capabilities),
          flightSwVersion: formatSwVersion(got.flightSwVersion),
          encoding: chooseEncoding(v?.autopilot ?? 0, BigInt(got.capabilities)),
          via,
        };
      }
    }
    return undefined;
  } finally {
    wake = undefined;
    unsub();
  }
}
