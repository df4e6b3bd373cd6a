import { createHash } from 'node:crypto';
import { AimError } from '../../protocol/errors.js';

/** MAVLink 2 signing timestamps count 10 µs units since 2015-01-01T00:00:00Z. */
const EPOCH_2015_MS = Date.UTC(2015, 0, 1);
/** A new stream whose timestamp is more than a minute behind ours is a replay (MAVLink signing spec). */
const NEW_STREAM_WINDOW = 60 * 100_000;
export const SIGNATURE_LENGTH = 13;
export const IFLAG_SIGNED = 0x01;

export type SignatureCheck = 'ok' | 'unsigned' | 'bad-signature' | 'replay';

export interface SigningOptions {
  /** The 32-byte secret shared with the flight controller (ArduPilot's SETUP_SIGNING key). */
  key: Buffer;
  /** Our link id in outgoing signatures. */
  linkId?: number;
  /** Accept unsigned incoming frames (a setting: false on a link that must be authenticated). */
  acceptUnsigned?: boolean;
  /** Wall clock, for tests. */
  now?: () => number;
}

/**
 * MAVLink 2 message signing: signs outgoing frames with a monotonic timestamp and checks incoming
 * ones (signature, then per-stream replay protection keyed by system, component and link id).
 * See https://mavlink.io/en/guide/message_signing.html.
 */
export class Signing {
  readonly linkId: number;
  readonly acceptUnsigned: boolean;
  private readonly key: Buffer;
  private readonly now: () => number;
  private timestamp = 0;
  private readonly streams = new Map<number, number>();

  constructor(opts: SigningOptions) {
    if (opts.key.length !== 32) {
      throw new AimError('AIM_ERR_SETTINGS', `MAVLink signing key must be 32 bytes, got ${opts.key.length}`);
    }
    this.key = Buffer.from(opts.key);
    this.linkId = opts.linkId ?? 0;
    this.acceptUnsigned = opts.acceptUnsigned ?? false;
    this.now = opts.now ?? Date.now;
  }

  /** Next outgoing timestamp: the clock, but never equal to or behind the last one we sent or saw. */
  private nextTimestamp(): number {
    this.timestamp = Math.max(this.timestamp + 1, this.clock());
    return this.timestamp;
  }

  private clock(): number {
    return Math.floor((this.now() - EPOCH_2015_MS) * 100);
  }

  /** Append link id, timestamp and signature to a frame serialized with the SIGNED incompat flag set. */
  sign(frame: Buffer): Buffer {
    const out = Buffer.alloc(frame.length + SIGNATURE_LENGTH);
    frame.copy(out, 0);
    out.writeUInt8(this.linkId, frame.length);
    out.writeUIntLE(this.nextTimestamp(), frame.length + 1, 6);
    this.digest(out).copy(out, frame.length + 7);
    return out;
  }

  /** Check one whole incoming frame (STX to end). */
  check(frame: Buffer): SignatureCheck {
    const flags = frame.readUInt8(2);
    if ((flags & IFLAG_SIGNED) === 0) return 'unsigned';
    if (frame.length < 12 + SIGNATURE_LENGTH) return 'bad-signature';
    const sigAt = frame.length - 6;
    if (!this.digest(frame).equals(frame.subarray(sigAt))) return 'bad-signature';
    const linkId = frame.readUInt8(frame.length - SIGNATURE_LENGTH);
    const ts = frame.readUIntLE(frame.length - SIGNATURE_LENGTH + 1, 6);
    const streamKey = (frame.readUInt8(5) << 16) | (frame.readUInt8(6) << 8) | linkId;
    const last = this.streams.get(streamKey);
    if (last !== undefined ? ts <= last : ts + NEW_STREAM_WINDOW < Math.max(this.timestamp, this.clock())) return 'replay';
    this.streams.set(streamKey, ts);
    // A newer clock on the other side moves ours forward, so our next frames are not replays to it.
    if (ts > this.timestamp) this.timestamp = ts;
    return 'ok';
  }

  /** First 6 bytes of SHA-256(key ‖ frame up to and including the timestamp). */
  private digest(signedFrame: Buffer): Buffer {
    return createHash('sha256').update(this.key).update(signedFrame.subarray(0, signedFrame.length - 6)).digest().subarray(0, 6);
  }
}
