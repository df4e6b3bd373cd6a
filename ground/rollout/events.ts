import type { AckStatus, ParamResult } from '../../protocol/index.js';
import type { AckNote, DroneState, RollbackState, RolloutResult } from './state.js';

/** Progress of a roll-out, as the engine reports it; rendered as a TTY table or as JSON lines. */
export type ProgressEvent =
  | {
      event: 'start';
      rolloutId: string;
      stateFile: string;
      resumed: boolean;
      version: number;
      id: string;
      sha256: string;
      dryRun: boolean;
      waves: { name: string; spec: string; drones: string[] }[];
      skipped: string[];
      maxFailures: string;
      allowedFailures: number;
    }
  | { event: 'wave-start'; wave: number; name: string; drones: string[] }
  | {
      event: 'drone';
      phase: 'rollout' | 'rollback';
      wave: string;
      drone: string;
      state: DroneState | RollbackState;
      ack: AckStatus | null;
      reason: string | null;
      elapsedMs: number;
      params?: ParamResult[];
    }
  | { event: 'wave-end'; wave: number; name: string; succeeded: number; failed: number; failures: number; allowed: number }
  | { event: 'halt'; wave: number; name: string; reason: string; failures: number; allowed: number }
  | { event: 'rollback-start'; version: number; drones: string[]; scope: 'all-sent' | 'not-applied' }
  | { event: 'rollback-end'; restored: number; failed: number }
  | { event: 'broker'; state: 'offline' | 'reconnect' | 'connect' }
  | { event: 'interrupted'; stateFile: string }
  | {
      event: 'summary';
      rolloutId: string;
      result: RolloutResult;
      ok: boolean;
      stateFile: string;
      drones: SummaryRow[];
      /** Drones whose final state is not known (no answer, deferred, offline): check them with `aimctl status`. */
      unknown: { drone: string; why: string }[];
      stats: RunStats;
    };

export interface SummaryRow {
  drone: string;
  wave: string;
  state: DroneState;
  /** The ack that decided the drone (`via: reported` when its retained report did); null when none came. */
  ack: AckNote | null;
  reason: string | null;
  /** From the wave's start to the drone's final answer. */
  elapsedMs: number | null;
  rollback: RollbackState | null;
  rollbackReason?: string | null;
}

/** What the roll-out cost aimctl: wall time and CPU since the command started, process totals, peak RSS. */
export interface RunStats {
  wallMs: number;
  /** CPU (user + system) since the command started: excludes Node start-up and module loading. */
  commandCpuMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  maxRssKb: number;
}
