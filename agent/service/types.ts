import type { Status } from '../../protocol/index.js';
import type { FcLink } from '../fc/index.js';
import type { Logger } from '../log.js';
import type { MqttSession } from '../mqtt/session.js';
import type { ApplyPipeline } from '../pipeline/pipeline.js';
import type { Settings, SettingsInput } from '../settings.js';
import type { AimStore, Locksmith } from '../store/index.js';

/** What the service tells systemd (agent/sd-notify.ts implements it; a no-op outside systemd). */
export interface NotifierPort {
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  stopping(): Promise<void>;
  startWatchdog(healthy: () => boolean): void;
  stopWatchdog(): void;
}

export interface AgentOptions {
  settings: Settings | SettingsInput;
  logger?: Logger;
  notifier?: NotifierPort;
  /**
   * How long READY=1 may wait for the FC link and the broker (default 0: not at all). An absent FC or
   * broker is a degraded state that STATUS= reports, not a reason to hold the boot back.
   */
  readyTimeoutMs?: number;
  /** An apply running longer than this stops the watchdog pings (default 120 s). */
  wedgedAfterMs?: number;
  /** A stop asked for while starting (SIGTERM during start-up): no READY=1 goes out; call stop() next. */
  signal?: AbortSignal;
}

export interface Agent {
  readonly settings: Settings;
  readonly pipeline: ApplyPipeline;
  readonly session: MqttSession;
  readonly fc: FcLink;
  readonly store: AimStore;
  readonly locksmith: Locksmith;
  /** Resolves once READY=1 went out (or the agent was stopped first). */
  readonly ready: Promise<void>;
  status(): Status;
  /**
   * SIGHUP: take the settings that can change at run time (RELOADABLE) and return the changed ones that
   * need a restart (droneId, broker, FC link and signing, stateDir, lock TTL/sweep). Throws, changing
   * nothing, when a trusted key cannot be read.
   */
  reload(settings: Settings): { applied: string[]; needRestart: string[] };
  /** Stop within apply.shutdownTimeoutS (`graceMs` caps the part an apply in flight may use to finish). */
  stop(opts?: { graceMs?: number }): Promise<void>;
}
