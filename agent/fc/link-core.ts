import type { MavLinkData } from 'node-mavlink';
import type { Logger } from '../log.js';
import type { Frame } from './framing.js';
import type { ParamEncoding } from './param-encoding.js';
import type { Timers, Vehicle } from './vehicle-tracker.js';

/** What the param, command and gimbal clients need from the link (internal to agent/fc). */
export interface LinkCore {
  readonly logger: Logger;
  readonly componentId: number;
  /** Every retry, timeout and pause of the clients runs on these (real ones in production; tests pass a driven clock). */
  readonly timers: Timers;
  /** The system id we send as (the FC's, once known). */
  systemId(): number;
  vehicle(): Vehicle | undefined;
  isUp(): boolean;
  /** Encode and write one message; false when no transport is open. */
  send(msg: MavLinkData, patch?: (payload: Buffer) => void): boolean;
  /** Frames of one message id from the tracked flight controller. Returns the unsubscribe function. */
  subscribe(msgid: number, fn: (frame: Frame) => void): () => void;
  /** Called once per transition to down (transport closed or heartbeats stopped). Returns unsubscribe. */
  onDown(fn: (reason: string) => void): () => void;
  /** Aborted by close(). */
  readonly closing: AbortSignal;
  /** The parameter value encoding the FC uses (known from its HEARTBEAT or AUTOPILOT_VERSION). */
  encoding(): ParamEncoding;
  /** Wire counters so far: what the link has seen of its own quality (frames in, sequence gaps, CRC errors). */
  wire(): { framesIn: number; seqGaps: number; crcErrors: number; answers: number };
  /** Count an answer from the FC to one of our requests (a PARAM_VALUE we waited for, a COMMAND_ACK). */
  noteAnswer(): void;
  /** Resolves once the encoding is settled (at once for ArduPilot; after AUTOPILOT_VERSION otherwise). */
  encodingSettled(signal: AbortSignal): Promise<ParamEncoding>;
}
