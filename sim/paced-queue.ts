import { systemClock, type Clock } from './clock.js';

/** Bits on the wire per byte of a UART at 8N1: start bit, 8 data bits, stop bit. */
export const BITS_PER_BYTE = 10;

/** Wire time of `bytes` at `baud`, in milliseconds. */
export function wireMs(bytes: number, baud: number): number {
  return (bytes * BITS_PER_BYTE * 1000) / baud;
}

/**
 * A byte queue that lets bytes through no faster than a UART at `baud` would carry them.
 *
 * It keeps a virtual wire clock: each chunk finishes at max(now, wire free) + its wire time, and is
 * delivered then. Chunks are cut into slices of a few milliseconds of wire time so a long burst trickles
 * out like a serial line instead of arriving at once. One timer serves the whole queue and delivery times
 * come from the wire clock, not from when timers fire, so late timers never accumulate drift.
 * Without a baud rate, chunks pass straight through.
 */
export class PacedQueue {
  private baud: number | undefined;
  private readonly deliver: (chunk: Buffer) => void;
  private readonly clock: Clock;
  private readonly queue: { due: number; data: Buffer }[] = [];
  private wireFreeAt = 0;
  private timer: unknown = undefined;
  private closed = false;

  constructor(opts: { baud?: number | undefined; deliver: (chunk: Buffer) => void; clock?: Clock }) {
    this.baud = opts.baud;
    this.deliver = opts.deliver;
    this.clock = opts.clock ?? systemClock;
  }

  setBaud(baud: number | undefined): void {
    this.baud = baud;
  }

  /** Bytes waiting for their wire time. */
  get pendingBytes(): number {
    return this.queue.reduce((n, q) => n + q.data.length, 0);
  }

  /** Milliseconds until the wire is free again (0 when idle). */
  get backlogMs(): number {
    return Math.max(0, this.wireFreeAt - this.clock.now());
  }

  push(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    const baud = this.baud;
    if (baud === undefined) {
      if (this.queue.length === 0) this.deliver(chunk);
      else this.queue.push({ due: this.wireFreeAt, data: chunk });
      return;
    }
    const slice = Math.max(1, Math.floor((baud / BITS_PER_BYTE) * 0.004));
    let t = Math.max(this.clock.now(), this.wireFreeAt);
    for (let off = 0; off < chunk.length; off += slice) {
      const data = chunk.subarray(off, off + slice);
      t += wireMs(data.length, baud);
      this.queue.push({ due: t, data });
    }
    this.wireFreeAt = t;
    this.arm();
  }

  /** Drop everything queued (a reboot loses what was in the UART buffer). */
  clear(): void {
    this.queue.length = 0;
    this.wireFreeAt = 0;
    this.disarm();
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    const first = this.queue[0];
    if (first === undefined) return;
    const wait = Math.max(0, first.due - this.clock.now());
    this.timer = this.clock.setTimeout(() => this.flush(), Math.ceil(wait));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const ready: Buffer[] = [];
    while (this.queue.length > 0 && this.queue[0]!.due <= now + 0.05) ready.push(this.queue.shift()!.data);
    if (ready.length > 0) this.deliver(ready.length === 1 ? ready[0]! : Buffer.concat(ready));
    if (!this.closed) this.arm();
  }
}
