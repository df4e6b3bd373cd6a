import type { FcLink } from '../fc/index.js';
import type { Logger } from '../log.js';
import type { MqttSession } from '../mqtt/session.js';
import type { NotifierPort } from './types.js';

export interface ReadyDeps {
  session: MqttSession;
  fc: FcLink;
  notifier?: NotifierPort | undefined;
  logger: Logger;
  /** Wait at most this long for the FC link and the broker before READY=1 (0: not at all). */
  waitMs: number;
  startedAt: number;
  appliedVersion: () => number | null;
  /** The watchdog's health check, started after READY=1. */
  healthy: () => boolean;
  /** stop(): no READY=1, no watchdog, no `agent ready` once this fires. */
  signal: AbortSignal;
}

/**
 * READY=1 goes out once the local state is sound (settings, keys, store, lock: startAgent checked
 * them) and the broker session and FC link are started. Neither peer is waited for beyond `waitMs`:
 * a drone whose FC or network is absent must still finish booting; STATUS= says it is degraded and
 * both keep being retried in the background. Resolves without READY when stopped first.
 */
export async function readySequence(deps: ReadyDeps): Promise<void> {
  const { session, fc, logger: log, signal } = deps;
  const t0 = performance.now();
  const bothUp = () => session.connected && fc.status().state === 'up';
  while (!signal.aborted && !bothUp() && performance.now() - t0 < deps.waitMs) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        session.off('connect', done);
        fc.off('up', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deps.waitMs - (performance.now() - t0)));
      session.once('connect', done);
      fc.once('up', done);
      signal.addEventListener('abort', done);
    });
  }
  if (signal.aborted) return;
  const missing = [fc.status().state === 'up' ? '' : 'flight controller link down', session.connected ? '' : 'broker not connected'].filter(Boolean);
  const applied = deps.appliedVersion();
  const text =
    missing.length === 0 ? `ready: v${applied ?? '-'} applied, FC and broker up` : `ready, degraded: ${missing.join(', ')} (retrying in the background); v${applied ?? '-'} applied`;
  log.info({ ms: Math.round(performance.now() - deps.startedAt), missing }, 'agent ready');
  await deps.notifier?.ready(text);
  // A stop that came while READY was being sent: STOPPING=1 is queued behind it; no watchdog now.
  if (signal.aborted) return;
  deps.notifier?.startWatchdog(deps.healthy);
}
