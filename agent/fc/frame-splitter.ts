import { MSG_ID_MAGIC_NUMBER, x25crc } from 'node-mavlink';

const STX_V1 = 0xfe;
const STX_V2 = 0xfd;
const V1_HEADER = 6;
const V2_HEADER = 10;
const CRC_LEN = 2;
const SIGNATURE_LEN = 13;
const IFLAG_SIGNED = 0x01;
/** Buffered bytes kept at most: a frame is ≤ 280 bytes, so more than this is old garbage. */
const MAX_BUFFERED = 4096;

const MAGIC: Readonly<Record<string, number>> = MSG_ID_MAGIC_NUMBER as Record<string, number>;

/** Why bytes were skipped: a frame whose CRC failed, or a start byte whose header cannot be a frame. */
export type SkipKind = 'crc' | 'header';

type Probe = { kind: 'frame'; length: number } | { kind: 'bad'; why: SkipKind } | { kind: 'short' };

/**
 * Bytes in, whole CRC-checked MAVLink 1/2 frames out, resynchronising on the byte after any bad start.
 *
 * Why not node-mavlink's splitter: it trusts a header's length byte, so a corrupted one that claims a
 * 255-byte payload holds back every frame behind it until ~267 more bytes have arrived (seconds on a
 * link that only carries heartbeats), and it skips a whole claimed length for an unknown message id.
 * Here a start byte is dropped, and the scan resumes at the next byte, as soon as its header is
 * implausible (unknown message id, unknown incompatibility flags), its CRC fails, or, while it waits
 * for more bytes, a complete valid frame is found starting inside the span it claims: a real frame
 * cannot contain another one that passes its CRC except by a 1-in-65536 coincidence.
 */
export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onFrame: (raw: Buffer) => void,
    private readonly onSkip: (why: SkipKind) => void = () => undefined,
  ) {}

  /** Bytes waiting for the rest of a frame (for tests and diagnostics). */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): void {
    const buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let pos = 0;
    for (;;) {
      const start = nextStart(buf, pos);
      if (start < 0) {
        pos = buf.length;
        break;
      }
      const p = probe(buf, start);
      if (p.kind === 'frame') {
        // A copy: the frame outlives this chunk (decoded later, kept in caches), the chunk does not.
        this.onFrame(Buffer.from(buf.subarray(start, start + p.length)));
        pos = start + p.length;
        continue;
      }
      if (p.kind === 'bad') {
        this.onSkip(p.why);
        pos = start + 1;
        continue;
      }
      // Incomplete: wait for more, unless a later start byte already holds a whole valid frame.
      if (completeFrameAfter(buf, start + 1)) {
        this.onSkip('header');
        pos = start + 1;
        continue;
      }
      pos = start;
      break;
    }
    let rest = buf.subarray(pos);
    if (rest.length > MAX_BUFFERED) rest = rest.subarray(rest.length - MAX_BUFFERED);
    this.buf = rest.length === 0 ? Buffer.alloc(0) : Buffer.from(rest);
  }

  /** Forget any partial frame (a new connection must not glue onto the old one's bytes). */
  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}

function nextStart(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const b = buf[i];
    if (b === STX_V2 || b === STX_V1) return i;
  }
  return -1;
}

function completeFrameAfter(buf: Buffer, from: number): boolean {
  for (let i = nextStart(buf, from); i >= 0; i = nextStart(buf, i + 1)) {
    if (probe(buf, i).kind === 'frame') return true;
  }
  return false;
}

/** What the bytes at `start` (a start byte) are: a whole valid frame, a bad start, or too short to tell. */
function probe(buf: Buffer, start: number): Probe {
  const v2 = buf[start] === STX_V2;
  const headerLen = v2 ? V2_HEADER : V1_HEADER;
  const avail = buf.length - start;
  if (avail < headerLen) {
    // The incompatibility flags come early: reject a v2 start byte as soon as they are seen.
    if (v2 && avail >= 3 && ((buf[start + 2] as number) & ~IFLAG_SIGNED) !== 0) return { kind: 'bad', why: 'header' };
    return { kind: 'short' };
  }
  const payloadLen = buf[start + 1] as number;
  let msgid: number;
  let signed = false;
  if (v2) {
    const iflags = buf[start + 2] as number;
    if ((iflags & ~IFLAG_SIGNED) !== 0) return { kind: 'bad', why: 'header' };
    signed = (iflags & IFLAG_SIGNED) !== 0;
    msgid = buf.readUIntLE(start + 7, 3);
  } else {
    msgid = buf[start + 5] as number;
  }
  const magic = MAGIC[msgid];
  if (magic === undefined) return { kind: 'bad', why: 'header' };
  const length = headerLen + payloadLen + CRC_LEN + (signed ? SIGNATURE_LEN : 0);
  if (avail < length) return { kind: 'short' };
  const crcAt = start + headerLen + payloadLen;
  const crc = x25crc(buf, start + 1, buf.length - crcAt, magic);
  if (crc !== buf.readUInt16LE(crcAt)) return { kind: 'bad', why: 'crc' };
  return { kind: 'frame', length };
}
