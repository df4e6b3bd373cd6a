import {
  MavLinkPacketParser,
  MavLinkPacketSplitter,
  MavLinkProtocolV2,
  x25crc,
  type MavLinkData,
  type MavLinkDataConstructor,
  type MavLinkPacket,
} from 'node-mavlink';
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
 * Bytes in, frames out: node-mavlink's splitter (finds STX, checks length and CRC) piped into its parser,
 * then our stage that checks signatures and counts sequence gaps per sender. One decoder per connection,
 * so a partial frame from a dropped connection never glues onto the next one.
 */
export class FrameDecoder {
  private readonly splitter: MavLinkPacketSplitter;
  private readonly parser: MavLinkPacketParser;
  private readonly lastSeq = new Map<number, number>();
  private destroyed = false;

  constructor(
    private readonly counters: WireCounters,
    private readonly onFrame: (frame: Frame) => void,
    private readonly signing?: Signing,
  ) {
    this.splitter = new MavLinkPacketSplitter({}, { onCrcError: () => void this.counters.crcErrors++ });
    this.parser = new MavLinkPacketParser();
    this.splitter.pipe(this.parser);
    this.parser.on('data', (packet: MavLinkPacket) => this.accept(packet));
    // The parser only throws on a start byte the splitter already vetted; log-free by design.
    this.splitter.on('error', () => undefined);
    this.parser.on('error', () => undefined);
  }

  push(chunk: Buffer): void {
    if (this.destroyed) return;
    this.counters.bytesIn += chunk.length;
    this.splitter.write(chunk);
  }

  destroy(): void {
    this.destroyed = true;
    this.splitter.unpipe(this.parser);
    this.splitter.destroy();
    this.parser.destroy();
  }

  private accept(packet: MavLinkPacket): void {
    if (this.destroyed) return;
    const raw = packet.buffer;
    const v2 = raw.readUInt8(0) === MavLinkProtocolV2.START_BYTE;
    const signed = v2 && (packet.header.incompatibilityFlags & IFLAG_SIGNED) !== 0;
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
    const { sysid, compid, seq, msgid } = packet.header;
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
      payload: packet.payload,
      decode: (clazz) => packet.protocol.data(packet.payload, clazz),
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
