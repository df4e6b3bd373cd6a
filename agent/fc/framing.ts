import { MavLinkProtocolV1, MavLinkProtocolV2, x25crc, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';
import { FrameSplitter } from './frame-splitter.js';
import { IFLAG_SIGNED, type Signing } from './signing.js';

/** One valid incoming MAVLink frame (CRC checked, signature checked when signing is on). */
export interface Frame {
  sysid: number;
  compid: number;
  msgid: number;
  seq: number;
  signed: boolean;
  /** Whole frame as it was on the wire. */
  raw: Buffer;
  /** Decode the payload into a data class (zero-extends truncated MAVLink 2 payloads). */
  decode<T extends MavLinkData>(clazz: MavLinkDataConstructor<T>): T;
  /** The payload bytes (zero-padded to 255), for fields that must be read bit-exact. */
  payload: Buffer;
}

/** Counters the link reports in status(). */
export interface WireCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  crcErrors: number;
  seqGaps: number;
  badSignatures: number;
  unsignedDropped: number;
  /** Signed frames taken without a check because we have no key: the FC has signing on and we do not. */
  signedUnverified: number;
}

export function zeroCounters(): WireCounters {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, crcErrors: 0, seqGaps: 0, badSignatures: 0, unsignedDropped: 0, signedUnverified: 0 };
}

/**
 * Bytes in, frames out: our splitter (finds a start byte, checks the header and CRC, resynchronises on
 * the next byte after a bad one, see frame-splitter.ts), then this stage that checks signatures and
 * counts sequence gaps per sender. Synchronous: a frame is handled in the same tick its last byte came.
 * One decoder per connection, so a partial frame from a dropped connection never glues onto the next one.
 */
export class FrameDecoder {
  private readonly splitter: FrameSplitter;
  private readonly lastSeq = new Map<number, number>();
  private destroyed = false;

  constructor(
    private readonly counters: WireCounters,
    private readonly onFrame: (frame: Frame) => void,
    private readonly signing?: Signing,
  ) {
    this.splitter = new FrameSplitter(
      (raw) => this.accept(raw),
      (why) => {
        if (why === 'crc') this.counters.crcErrors++;
      },
    );
  }

  push(chunk: Buffer): void {
    if (this.destroyed) return;
    this.counters.bytesIn += chunk.length;
    this.splitter.push(chunk);
  }

  destroy(): void {
    this.destroyed = true;
    this.splitter.reset();
  }

  private accept(raw: Buffer): void {
    if (this.destroyed) return;
    const v2 = raw.readUInt8(0) === MavLinkProtocolV2.START_BYTE;
    const protocol = v2 ? new MavLinkProtocolV2() : new MavLinkProtocolV1();
    const header = protocol.header(raw);
    const payload = protocol.payload(raw);
    const signed = v2 && (header.incompatibilityFlags & IFLAG_SIGNED) !== 0;
    if (this.signing !== undefined) {
      const check = v2 ? this.signing.check(raw) : 'unsigned';
      if (check === 'unsigned' && !this.signing.acceptUnsigned) {
        this.counters.unsignedDropped++;
        return;
      }
      if (check === 'bad-signature' || check === 'replay') {
        this.counters.badSignatures++;
        return;
      }
    } else if (signed) {
      this.counters.signedUnverified++;
    }
    this.counters.framesIn++;
    const { sysid, compid, seq, msgid } = header;
    const key = (sysid << 8) | compid;
    const last = this.lastSeq.get(key);
    if (last !== undefined) this.counters.seqGaps += (seq - last - 1 + 256) & 0xff;
    this.lastSeq.set(key, seq);
    this.onFrame({
      sysid,
      compid,
      msgid,
      seq,
      signed,
      raw,
      payload,
      decode: (clazz) => protocol.data(payload, clazz),
    });
  }
}

/**
 * Data class in, MAVLink 2 bytes out, with this link's own sequence counter (node-mavlink's `send()`
 * shares one counter across every link and defaults to MAVLink 1).
 */
export class FrameEncoder {
  private seq = 0;

  constructor(
    private readonly ids: { systemId: () => number; componentId: number },
    private readonly signing?: Signing,
  ) {}

  /**
   * Serialize `msg`. `patch` may overwrite payload bytes the data class cannot express exactly (a raw
   * float bit pattern for bytewise parameter encoding); it must stay inside the non-truncated payload.
   */
  encode(msg: MavLinkData, patch?: (payload: Buffer) => void): Buffer {
    const flags = this.signing ? IFLAG_SIGNED : 0;
    const proto = new MavLinkProtocolV2(this.ids.systemId(), this.ids.componentId, flags);
    let frame = proto.serialize(msg, this.seq);
    this.seq = (this.seq + 1) & 0xff;
    if (patch !== undefined) {
      const payloadLen = frame.readUInt8(1);
      patch(frame.subarray(MavLinkProtocolV2.PAYLOAD_OFFSET, MavLinkProtocolV2.PAYLOAD_OFFSET + payloadLen));
      const magic = (msg.constructor as MavLinkDataConstructor<MavLinkData>).MAGIC_NUMBER;
      frame.writeUInt16LE(x25crc(frame, 1, 2, magic), frame.length - 2);
    }
    if (this.signing) frame = this.signing.sign(frame);
    return frame;
  }
}
