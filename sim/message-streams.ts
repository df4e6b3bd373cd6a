import type { Channel } from './channel.js';
import type { Clock } from './clock.js';
import { autopilotVersion, gimbalDeviceAttitudeStatus, heartbeat } from './messages.js';
import type { MountModel } from './mount.js';

const HEARTBEAT = 0;
const AUTOPILOT_VERSION = 148;
const GIMBAL_DEVICE_ATTITUDE_STATUS = 285;

export interface StreamSource {
  clock: Clock;
  /** Time origin for time_boot_ms. */
  bootedAt: number;
  armed: () => boolean;
  /** The mount backend, when one was created at boot. */
  mount: () => MountModel | undefined;
}

/**
 * The messages fc-sim can send on request (MAV_CMD_REQUEST_MESSAGE) or stream per channel
 * (MAV_CMD_SET_MESSAGE_INTERVAL): HEARTBEAT, AUTOPILOT_VERSION, GIMBAL_DEVICE_ATTITUDE_STATUS.
 */
export class MessageStreams {
  private readonly src: StreamSource;

  constructor(src: StreamSource) {
    this.src = src;
  }

  /** Sends message `id` once on `ch`; undefined when fc-sim cannot send that message. */
  sender(ch: Channel, id: number): (() => void) | undefined {
    switch (id) {
      case HEARTBEAT:
        return () => ch.send(heartbeat(this.src.armed()));
      case AUTOPILOT_VERSION:
        return () => ch.send(autopilotVersion());
      case GIMBAL_DEVICE_ATTITUDE_STATUS:
        return () => this.sendAttitude(ch);
      default:
        return undefined;
    }
  }

  /** MAV_CMD_SET_MESSAGE_INTERVAL on one channel: -1 stops, 0 is the default (not streamed), >0 µs. False: not an id fc-sim streams. */
  setInterval(ch: Channel, id: number, intervalUs: number): boolean {
    if (id === HEARTBEAT) return true;
    if (id !== GIMBAL_DEVICE_ATTITUDE_STATUS) return false;
    const clock = this.src.clock;
    const old = ch.intervals.get(id);
    if (old !== undefined) clock.clearTimeout(old);
    ch.intervals.delete(id);
    if (!(intervalUs > 0)) return true;
    const periodMs = Math.max(5, intervalUs / 1000);
    const tick = () => {
      this.sendAttitude(ch);
      ch.intervals.set(id, clock.setTimeout(tick, periodMs));
    };
    ch.intervals.set(id, clock.setTimeout(tick, periodMs));
    return true;
  }

  /** Stop every stream on `ch` (a reboot forgets message intervals). */
  clear(ch: Channel): void {
    for (const t of ch.intervals.values()) this.src.clock.clearTimeout(t);
    ch.intervals.clear();
  }

  private sendAttitude(ch: Channel): void {
    const mount = this.src.mount();
    if (mount === undefined) return;
    const now = this.src.clock.now();
    ch.send(gimbalDeviceAttitudeStatus(now - this.src.bootedAt, mount.quaternion(now), mount.flags()));
  }
}
