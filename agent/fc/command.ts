import { judgeSilence } from './absence.js';
import type { LinkCore } from './link-core.js';
import { CommandAck, CommandInt, CommandLong, MavResult } from './messages.js';
import { OpScope } from './op-scope.js';

/** Every MAV_RESULT a final COMMAND_ACK can carry, plus `timeout` (no ack after all attempts). */
export type CommandOutcome =
  | 'accepted'
  | 'temporarily-rejected'
  | 'denied'
  | 'unsupported'
  | 'failed'
  | 'cancelled'
  | 'command-long-only'
  | 'command-int-only'
  | 'unsupported-frame'
  | 'timeout';

const OUTCOME: Record<number, CommandOutcome> = {
  [MavResult.ACCEPTED]: 'accepted',
  [MavResult.TEMPORARILY_REJECTED]: 'temporarily-rejected',
  [MavResult.DENIED]: 'denied',
  [MavResult.UNSUPPORTED]: 'unsupported',
  [MavResult.FAILED]: 'failed',
  [MavResult.CANCELLED]: 'cancelled',
  [MavResult.COMMAND_LONG_ONLY]: 'command-long-only',
  [MavResult.COMMAND_INT_ONLY]: 'command-int-only',
  [MavResult.COMMAND_UNSUPPORTED_MAV_FRAME]: 'unsupported-frame',
};

/** A command: seven params (NaN allowed), sent as COMMAND_LONG, or as COMMAND_INT when `int` is given. */
export interface CommandSpec {
  command: number;
  params: readonly number[];
  /** COMMAND_INT: frame, and x/y as integers (degrees × 1e7), z as float. Replaces params 5–7. */
  int?: { frame: number; x: number; y: number; z: number };
}

export interface CommandOptions {
  /** Wait for an ack this long per attempt (default 1000 ms). */
  timeoutMs?: number;
  /**
   * Sends in total before giving up with `timeout` (default 3, as MAVSDK and MAVProxy); more, up to 10,
   * on a link that is losing frames (absence.ts), so that a lossy link is not taken for a silent FC.
   */
  retries?: number;
  /** After IN_PROGRESS, wait this long for the final ack, restarted by every further IN_PROGRESS (default 10 s). */
  inProgressTimeoutMs?: number;
  /** Pause before resending after TEMPORARILY_REJECTED (default 200 ms, doubled each time). */
  retryDelayMs?: number;
  signal?: AbortSignal;
}

export interface CommandResult {
  result: CommandOutcome;
  attempts: number;
  /** COMMAND_ACK extensions, when the final ack carried them. */
  progress?: number;
  resultParam2?: number;
  elapsedMs: number;
}

/**
 * The MAVLink command protocol (https://mavlink.io/en/services/command.html): send, wait for COMMAND_ACK,
 * resend with an increasing confirmation on silence; IN_PROGRESS stops resending and waits for the final
 * ack; TEMPORARILY_REJECTED retries after a pause. One command of each id in flight at a time.
 */
export class CommandSender {
  private readonly busy = new Map<number, Promise<unknown>>();

  constructor(private readonly core: LinkCore) {}

  /** Send and wait for the final outcome. Throws AIM_ERR_ABORTED / AIM_ERR_FC_LINK only for the whole call. */
  send(spec: CommandSpec, opts: CommandOptions = {}): Promise<CommandResult> {
    const prev = this.busy.get(spec.command) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.run(spec, opts));
    const tail = run.catch(() => undefined);
    this.busy.set(spec.command, tail);
    void tail.then(() => {
      if (this.busy.get(spec.command) === tail) this.busy.delete(spec.command);
    });
    return run;
  }

  private async run(spec: CommandSpec, opts: CommandOptions): Promise<CommandResult> {
    const timeoutMs = opts.timeoutMs ?? 1000;
    const retries = Math.max(1, opts.retries ?? 3);
    const inProgressMs = opts.inProgressTimeoutMs ?? 10_000;
    let retryDelay = opts.retryDelayMs ?? 200;
    const started = this.core.timers.now();
    const scope = new OpScope(this.core, `command ${spec.command}`, opts.signal);
    try {
      scope.check();
      let attempts = 0;
      let confirmation = 0;
      while (judgeSilence(this.core.wire(), retries, attempts) === 'again') {
        attempts++;
        this.transmit(spec, confirmation++);
        let ack = await this.waitAck(scope, spec.command, timeoutMs);
        while (ack !== undefined && ack.result === MavResult.IN_PROGRESS) {
          ack = await this.waitAck(scope, spec.command, inProgressMs);
          if (ack === undefined) return { result: 'timeout', attempts, elapsedMs: this.core.timers.now() - started };
        }
        if (ack === undefined) continue;
        if (ack.result === MavResult.TEMPORARILY_REJECTED && attempts < retries) {
          await scope.sleep(retryDelay);
          retryDelay *= 2;
          confirmation = 0; // a fresh command, not a resend of a lost one
          continue;
        }
        return {
          result: OUTCOME[ack.result] ?? 'failed',
          attempts,
          progress: ack.progress,
          resultParam2: ack.resultParam2,
          elapsedMs: this.core.timers.now() - started,
        };
      }
      return { result: 'timeout', attempts, elapsedMs: this.core.timers.now() - started };
    } finally {
      scope.dispose();
    }
  }

  private transmit(spec: CommandSpec, confirmation: number): void {
    const v = this.core.vehicle();
    const p = (i: number) => spec.params[i] ?? 0;
    if (spec.int !== undefined) {
      const m = new CommandInt();
      m.targetSystem = v?.systemId ?? 1;
      m.targetComponent = v?.componentId ?? 1;
      m.command = spec.command;
      m.frame = spec.int.frame;
      m.current = 0;
      m.autocontinue = 0;
      m._param1 = p(0);
      m._param2 = p(1);
      m._param3 = p(2);
      m._param4 = p(3);
      m._param5 = Math.round(spec.int.x);
      m._param6 = Math.round(spec.int.y);
      m._param7 = spec.int.z;
      this.core.send(m);
      return;
    }
    const m = new CommandLong();
    m.targetSystem = v?.systemId ?? 1;
    m.targetComponent = v?.componentId ?? 1;
    m.command = spec.command;
    m.confirmation = Math.min(confirmation, 255);
    m._param1 = p(0);
    m._param2 = p(1);
    m._param3 = p(2);
    m._param4 = p(3);
    m._param5 = p(4);
    m._param6 = p(5);
    m._param7 = p(6);
    this.core.send(m);
  }

  /** The next COMMAND_ACK for `command` addressed to us (or to nobody in particular), or undefined on timeout. */
  private waitAck(scope: OpScope, command: number, ms: number): Promise<{ result: number; progress: number; resultParam2: number } | undefined> {
    return new Promise((resolve, reject) => {
      const done = () => {
        unsub();
        scope.clearTimer(timer);
        scope.signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(scope.signal.reason);
      };
      const unsub = this.core.subscribe(CommandAck.MSG_ID, (frame) => {
        const ack = frame.decode(CommandAck);
        if (ack.command !== command) return;
        const forUs =
          (ack.targetSystem === 0 || ack.targetSystem === this.core.systemId()) &&
          (ack.targetComponent === 0 || ack.targetComponent === this.core.componentId);
        if (!forUs) return;
        this.core.noteAnswer();
        done();
        resolve({ result: ack.result, progress: ack.progress, resultParam2: ack.resultParam2 });
      });
      const timer = scope.setTimer(ms, () => {
        done();
        resolve(undefined);
      });
      if (scope.signal.aborted) onAbort();
      else scope.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
