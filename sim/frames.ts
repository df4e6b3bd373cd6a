import {
  MavLinkPacketSplitter,
  MavLinkProtocolV1,
  MavLinkProtocolV2,
  type MavLinkData,
  type MavLinkDataConstructor,
  type MavLinkProtocol,
} from 'node-mavlink';

/** One received MAVLink frame (v1 or v2), CRC already checked by the splitter. */
export interface Frame {
  version: 1 | 2;
  msgid: number;
  sysid: number;
  compid: number;
  seq: number;
  /** Raw bytes as they came off the wire. */
  buffer: Buffer;
  payload: Buffer;
  protocol: MavLinkProtocol;
}

/** Decode a frame the splitter cut out; undefined for anything that is not a MAVLink start byte. */
export function decodeFrame(buffer: Buffer): Frame | undefined {
  const stx = buffer[0];
  const protocol = stx === MavLinkProtocolV2.START_BYTE ? new MavLinkProtocolV2() : stx === MavLinkProtocolV1.START_BYTE ? new MavLinkProtocolV1() : undefined;
  if (protocol === undefined) return undefined;
  const header = protocol.header(buffer);
  return {
    version: protocol instanceof MavLinkProtocolV2 ? 2 : 1,
    msgid: header.msgid,
    sysid: header.sysid,
    compid: header.compid,
    seq: header.seq,
    buffer,
    payload: protocol.payload(buffer),
    protocol,
  };
}

/** The frame's message as an instance of `clazz` (the caller has checked `frame.msgid`). */
export function readMessage<T extends MavLinkData>(frame: Frame, clazz: MavLinkDataConstructor<T>): T {
  return frame.protocol.data(frame.payload, clazz);
}

/** True when `frame` carries the message `clazz` describes. */
export function isMessage(frame: Frame, clazz: { MSG_ID: number }): boolean {
  return frame.msgid === clazz.MSG_ID;
}

/**
 * Cuts a byte stream into frames (node-mavlink's splitter: it resynchronises byte by byte after a bad
 * CRC) and hands each to `onFrame`. `onCrcError` counts frames that failed their checksum; `onError`
 * gets what the stream itself reports (a bug, not a line fault).
 */
export class FrameSplitter {
  private readonly splitter: MavLinkPacketSplitter;

  constructor(onFrame: (frame: Frame) => void, hooks: { onCrcError?: () => void; onError: (err: Error) => void }) {
    this.splitter = new MavLinkPacketSplitter({}, { onCrcError: () => hooks.onCrcError?.() });
    this.splitter.on('data', (chunk: unknown) => {
      const buffer = bufferOf(chunk);
      const frame = buffer === undefined ? undefined : decodeFrame(buffer);
      if (frame !== undefined) onFrame(frame);
    });
    this.splitter.on('error', hooks.onError);
  }

  write(bytes: Buffer): void {
    // Bytes can still trickle in from a socket after its channel was torn down.
    if (!this.splitter.destroyed) this.splitter.write(bytes);
  }

  destroy(): void {
    this.splitter.destroy();
  }
}

function bufferOf(chunk: unknown): Buffer | undefined {
  if (typeof chunk !== 'object' || chunk === null || !('buffer' in chunk)) return undefined;
  const b = chunk.buffer;
  return Buffer.isBuffer(b) ? b : undefined;
}

/**
 * Serializes messages as MAVLink 2 for one channel, with that channel's own sequence counter
 * (node-mavlink's `send()` would use v1 and a process-wide counter).
 */
export class FrameEncoder {
  private seq = 0;
  private plain: MavLinkProtocolV2;
  private signed: MavLinkProtocolV2;
  /** The signer in force now (a key can be set while running, as SETUP_SIGNING does); undefined: unsigned. */
  private readonly signing: () => { sign(frame: Buffer): Buffer } | undefined;

  constructor(sysid: number, compid: number, signing: () => { sign(frame: Buffer): Buffer } | undefined = () => undefined) {
    this.signing = signing;
    this.plain = new MavLinkProtocolV2(sysid, compid);
    this.signed = new MavLinkProtocolV2(sysid, compid, MavLinkProtocolV2.IFLAG_SIGNED);
  }

  setSystemId(sysid: number): void {
    this.plain = new MavLinkProtocolV2(sysid, this.plain.compid);
    this.signed = new MavLinkProtocolV2(sysid, this.plain.compid, MavLinkProtocolV2.IFLAG_SIGNED);
  }

  encode(msg: MavLinkData): Buffer {
    const signer = this.signing();
    const buf = (signer === undefined ? this.plain : this.signed).serialize(msg, this.seq);
    this.seq = (this.seq + 1) & 0xff;
    return signer === undefined ? buf : signer.sign(buf);
  }
}
