import { createHash } from 'node:crypto';

const SIGNATURE_LENGTH = 13;
const IFLAG_SIGNED = 0x01;
const EPOCH_2015_MS = Date.UTC(2015, 0, 1);

export type SimSignatureCheck = 'ok' | 'unsigned' | 'bad';

/**
 * MAVLink 2 signing as ArduPilot does it once a key is set (measured on SITL, hw-tests/README.md):
 * every frame the FC sends is signed; unsigned frames from a peer are dropped without a word unless the
 * port accepts them (ArduPilot's channel 0, "assumed USB"); frames signed with another key are dropped.
 * Replay protection is not modelled.
 */
export class SimSigning {
  private readonly key: Buffer;
  readonly acceptUnsigned: boolean;
  private timestamp = 0;

  constructor(key: Buffer, opts: { acceptUnsigned?: boolean } = {}) {
    if (key.length !== 32) throw new RangeError(`signing key must be 32 bytes, got ${key.length}`);
    this.key = Buffer.from(key);
    this.acceptUnsigned = opts.acceptUnsigned ?? false;
  }

  /** Sign a MAVLink 2 frame that was serialized with the SIGNED incompat flag set (link id 0). */
  sign(frame: Buffer): Buffer {
    const out = Buffer.alloc(frame.length + SIGNATURE_LENGTH);
    frame.copy(out, 0);
    this.timestamp = Math.max(this.timestamp + 1, Math.floor((Date.now() - EPOCH_2015_MS) * 100));
    out.writeUInt8(0, frame.length);
    out.writeUIntLE(this.timestamp, frame.length + 1, 6);
    this.digest(out).copy(out, out.length - 6);
    return out;
  }

  check(frame: Buffer): SimSignatureCheck {
    if (frame[0] !== 0xfd || (frame.readUInt8(2) & IFLAG_SIGNED) === 0) return 'unsigned';
    if (frame.length < 12 + SIGNATURE_LENGTH) return 'bad';
    return this.digest(frame).equals(frame.subarray(frame.length - 6)) ? 'ok' : 'bad';
  }

  private digest(signed: Buffer): Buffer {
    return createHash('sha256').update(this.key).update(signed.subarray(0, signed.length - 6)).digest().subarray(0, 6);
  }
}
