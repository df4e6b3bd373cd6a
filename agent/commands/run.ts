import { COMMON_OPTIONS, EXIT_FAILED, EXIT_OK, parseCommandArgs, UsageError, type CliIO } from '../cli-io.js';
import { createLogger } from '../log.js';
import { SystemdNotifier } from '../sd-notify.js';
import { loadSettings } from '../settings.js';
import { startAgent, type Agent } from '../service.js';
import { commandSettings } from './common.js';

const USAGE = 'usage: aim-agent run [--settings FILE] [--state-dir DIR]';

/** After stop() the process should end by itself; if a stray handle keeps it up, it exits anyway after this. */
const EXIT_BACKSTOP_MS = 2000;

/**
 * `aim-agent run`: the service. SIGTERM/SIGINT stop it within apply.shutdownTimeoutS (an apply in flight
 * finishes or rolls back, offline is published, the lock released) and exit 0; SIGHUP reloads settings.
 * A start that fails (bad state dir, unreadable key, ...) undoes what it began and exits 1 at once.
 */
export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, COMMON_OPTIONS);
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n${USAGE}`);
  const settings = commandSettings(values, true)!;
  const log = createLogger({ level: settings.logLevel, env: io.env });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (kept running)'));
  const notifier = new SystemdNotifier({ env: io.env, logger: log });

  // Signals are handled from the first moment: a stop while starting waits for the start to settle,
  // then stops what it started.
  let agent: Agent | undefined;
  let signalled: string | undefined;
  let onSignal: (() => void) | undefined;
  const stopRequested = new AbortController();
  const stopOn = (signal: string) => () => {
    if (signalled !== undefined) return;
    signalled = signal;
    log.info({ signal }, 'signal received; shutting down');
    stopRequested.abort();
    onSignal?.();
  };
  const onTerm = stopOn('SIGTERM');
  const onInt = stopOn('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  const onHup = () => {
    if (agent === undefined || signalled !== undefined) return;
    const file = values.settings;
    try {
      const next = file === undefined ? commandSettings(values, true)! : loadSettings(file);
      agent.reload(next);
    } catch (err) {
      log.error({ err }, 'settings reload failed; keeping the current settings');
    }
  };
  process.on('SIGHUP', onHup);
  const unhook = () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  };

  try {
    agent = await startAgent({ settings, logger: log, notifier, signal: stopRequested.signal });
  } catch (err) {
    unhook();
    // Logged as well as printed: under systemd this is the line `journalctl -p err` finds.
    log.error({ err }, 'start failed');
    throw err;
  }
  const running = agent;
  const code = await new Promise<number>((resolve) => {
    onSignal = () =>
      running.stop().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(EXIT_FAILED);
        },
      );
    if (signalled !== undefined) onSignal();
  });
  unhook();
  setTimeout(() => {
    log.warn('something still holds the event loop after stop; exiting anyway');
    process.exit(code);
  }, EXIT_BACKSTOP_MS).unref();
  return code;
}
