import type { FcLink } from '../fc/index.js';
import type { Logger } from '../log.js';
import type { MqttSession } from '../mqtt/session.js';
import type { NotifierPort } from './types.js';

export interface ReadyDeps {
  session: MqttSession;
  fc: FcLink;
  notifier?: NotifierPort | undefined;
  logger: Logger;
  /** Wait at most this long for the FC link and the broker before READY=1. */
  waitMs: number;
  startedAt: number;
  appliedVersion: () => number | null;
  /** The watchdog's health check, started after READY=1. */
  healthy: () => boolean;
}

/** Wait (bounded) for the FC link and the broker, then READY=1 with STATUS= naming what is missing, then the watchdog. */
export async function readySequence(deps: ReadyDeps): Promise<void> {
  const { session, fc, logger: log } = deps;
  const t0 = performance.now();
  while (performance.now() - t0 < deps.waitMs && !(session.connected && fc.status().state === 'up')) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        session.off('connect', done);
        fc.off('up', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deps.waitMs - (performance.now() - t0)));
      session.once('connect', done);
      fc.once('up', done);
    });
  }
  const missing = [session.connected ? '' : 'broker', fc.status().state === 'up' ? '' : 'flight controller'].filter(Boolean);
  const applied = deps.appliedVersion();
  const text = missing.length === 0 ? `ready: v${applied ?? '-'} applied, FC and broker up` : `ready without ${missing.join(' and ')} (retrying)`;
  log.info({ ms: Math.round(performance.now() - deps.startedAt), missing }, 'agent ready');
  await deps.notifier?.ready(text);
  deps.notifier?.startWatchdog(deps.healthy);
}
