import type { Status } from '../../protocol/index.js';
import type { FcLink } from '../fc/index.js';
import type { MqttSession } from '../mqtt/session.js';
import type { PipelineState } from '../pipeline/pipeline.js';
import type { Locksmith } from '../store/index.js';
import { AGENT_VERSION } from '../version.js';
import type { NotifierPort } from './types.js';

export interface StatusPublisherOptions {
  session: MqttSession;
  locksmith: Locksmith;
  notifier?: NotifierPort | undefined;
  /** performance.now() at start, for uptimeS. */
  startedAt: number;
}

/**
 * The retained status topic and systemd's STATUS= line: published on every change (state, link,
 * armed, lock, applied version), on every broker connect, and once a minute as a heartbeat.
 * The FC link and the pipeline are attached once they exist; until then the link reads `down`.
 */
export class StatusPublisher {
  appliedVersion: number | null = null;
  #lock: Status['lock'] = 'free';
  #fc: FcLink | undefined;
  #pipelineState: () => PipelineState = () => 'idle';
  #lastKey = '';
  #timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: StatusPublisherOptions) {}

  attach(fc: FcLink, pipelineState: () => PipelineState): void {
    this.#fc = fc;
    this.#pipelineState = pipelineState;
  }

  now(): Status {
    const fc = this.#fc;
    return {
      state: stateName(this.#pipelineState()),
      agentVersion: AGENT_VERSION,
      link: fc?.status().state ?? 'down',
      armed: fc?.vehicle?.armed ?? null,
      lock: this.#lock,
      uptimeS: Math.round((performance.now() - this.opts.startedAt) / 1000),
      appliedVersion: this.appliedVersion,
      at: new Date().toISOString(),
    };
  }

  /** Publish when something a reader cares about changed (or always, with `force`). */
  publish(force = false): void {
    const s = this.now();
    const key = `${s.state}|${s.link}|${s.armed}|${s.lock}|${s.appliedVersion}`;
    if (!force && key === this.#lastKey) return;
    this.#lastKey = key;
    const { session, notifier } = this.opts;
    session.publishStatus(s);
    void notifier?.status(statusLine(s, session.connected));
  }

  /** Poll the lock every 5 s (another process may hold it) and re-publish once a minute. */
  startTimers(): void {
    const poll = setInterval(() => {
      void this.opts.locksmith.status().then(
        (v) => {
          this.#lock = v.state;
          this.publish();
        },
        () => undefined,
      );
    }, 5000);
    const heartbeat = setInterval(() => this.publish(true), 60_000);
    poll.unref();
    heartbeat.unref();
    this.#timers = [poll, heartbeat];
  }

  stopTimers(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
  }
}

/** systemd's STATUS= text: `systemctl status aim-agent` shows it. */
export function statusLine(s: Status, brokerUp: boolean): string {
  const degraded = s.link !== 'up' || !brokerUp ? ' (degraded)' : '';
  return `v${s.appliedVersion ?? '-'} fc ${s.link}${s.armed ? ' armed' : ''} broker ${brokerUp ? 'up' : 'down'} ${s.state}${degraded}`;
}

function stateName(s: PipelineState): Status['state'] {
  return s === 'idle' ? 'online' : s;
}
