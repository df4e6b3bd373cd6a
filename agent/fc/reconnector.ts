import { nextDelay, type BackoffOptions } from '../backoff.js';
import type { LinkSpec } from './link-string.js';
import { openTransport, type Transport, type TransportHandlers } from './transport.js';
import { realTimers, type Timers } from './vehicle-tracker.js';

export interface ReconnectorHooks {
  /** A transport is open; bytes follow through onData. */
  onOpen(t: Transport): void;
  onData(chunk: Buffer): void;
  /** The open transport closed (err: why, unless close() asked for it). */
  onClose(err: Error | undefined): void;
  /** An open failed or a transport dropped; the reconnector retries after its backoff. */
  onError(err: unknown, what: string): void;
}

type Opener = (spec: LinkSpec, handlers: TransportHandlers, signal?: AbortSignal) => Promise<Transport>;

/**
 * Keeps one transport open: open, wait for it to close, back off, open again, until close(). The
 * backoff restarts from its minimum once the link proves good (resetBackoff, on an FC heartbeat), so a
 * peer that accepts and drops at once is not hammered.
 */
export class Reconnector {
  private readonly closing = new AbortController();
  private current: Transport | undefined;
  private endCurrent: ((err?: Error) => void) | undefined;
  private wake: (() => void) | undefined;
  private delay: number | undefined;
  private loop: Promise<void> | undefined;
  private opened = 0;

  constructor(
    private readonly spec: LinkSpec,
    private readonly backoff: BackoffOptions | undefined,
    private readonly hooks: ReconnectorHooks,
    private readonly open: Opener = openTransport,
    private readonly timers: Timers = realTimers,
  ) {}

  get transport(): Transport | undefined {
    return this.current;
  }

  /** Transports opened so far. */
  get connects(): number {
    return this.opened;
  }

  start(): void {
    this.loop ??= this.run();
  }

  resetBackoff(): void {
    this.delay = undefined;
  }

  /** Close the open transport and stop reconnecting; resolves when the loop has ended. */
  async close(): Promise<void> {
    this.closing.abort();
    this.wake?.();
    const t = this.current;
    this.current = undefined;
    if (t !== undefined) await t.close();
    this.endCurrent?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const closing = this.closing.signal;
    while (!closing.aborted) {
      let ended!: (err?: Error) => void;
      const whenEnded = new Promise<Error | undefined>((r) => (ended = r));
      let t: Transport;
      try {
        t = await this.open(this.spec, { onData: (c) => this.hooks.onData(c), onClose: (err) => ended(err) }, closing);
      } catch (err) {
        if (closing.aborted) break;
        this.hooks.onError(err, 'could not open the flight-controller link');
        await this.sleep();
        continue;
      }
      if (closing.aborted) {
        await t.close();
        break;
      }
      this.opened++;
      this.current = t;
      this.endCurrent = ended;
      this.hooks.onOpen(t);
      const err = await whenEnded;
      this.endCurrent = undefined;
      if (this.current === t) this.current = undefined;
      this.hooks.onClose(closing.aborted ? undefined : (err ?? new Error('closed')));
      if (closing.aborted) break;
      this.hooks.onError(err ?? new Error('closed'), 'flight-controller transport closed');
      await this.sleep();
    }
  }

  private sleep(): Promise<void> {
    this.delay = nextDelay(this.delay, this.backoff);
    const ms = this.delay;
    return new Promise((resolve) => {
      if (this.closing.signal.aborted) return resolve();
      const done = () => {
        this.timers.clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = this.timers.setTimeout(done, ms);
      this.wake = done;
    });
  }
}
