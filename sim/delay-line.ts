import { systemClock, type Clock } from './clock.js';

/**
 * A first-in first-out delay: every item comes out `delayMs` after it went in, never before an item
 * that went in earlier (lowering the delay at run time does not reorder frames). One timer for all.
 * With a zero delay and nothing waiting, items pass straight through.
 */
export class DelayLine<T> {
  private readonly deliver: (item: T) => void;
  private readonly clock: Clock;
  private readonly queue: { due: number; item: T }[] = [];
  private lastDue = 0;
  private timer: unknown = undefined;

  constructor(deliver: (item: T) => void, clock: Clock = systemClock) {
    this.deliver = deliver;
    this.clock = clock;
  }

  get size(): number {
    return this.queue.length;
  }

  push(item: T, delayMs: number): void {
    if (delayMs <= 0 && this.queue.length === 0) {
      this.deliver(item);
      return;
    }
    const due = Math.max(this.clock.now() + delayMs, this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, item });
    this.arm();
  }

  clear(): void {
    this.queue.length = 0;
    this.lastDue = 0;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    const first = this.queue[0];
    if (first === undefined) return;
    this.timer = this.clock.setTimeout(() => this.flush(), Math.ceil(Math.max(0, first.due - this.clock.now())));
  }

  private flush(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now + 0.05) this.deliver(this.queue.shift()!.item);
    this.arm();
  }
}
