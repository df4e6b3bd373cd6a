import { COMMON_OPTIONS, EXIT_FAILED, EXIT_OK, parseCommandArgs, UsageError, type CliIO } from '../cli-io.js';
import { createLogger } from '../log.js';
import { SystemdNotifier } from '../sd-notify.js';
import { loadSettings } from '../settings.js';
import { startAgent } from '../service.js';
import { commandSettings } from './common.js';

const USAGE = 'usage: aim-agent run [--settings FILE] [--state-dir DIR]';

/**
 * `aim-agent run`: the service. SIGTERM/SIGINT finish or roll back the apply in progress within
 * apply.shutdownTimeoutS, publish offline, release the lock and exit 0; SIGHUP reloads settings.
 */
export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, COMMON_OPTIONS);
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n${USAGE}`);
  const settings = commandSettings(values, true)!;
  const log = createLogger({ level: settings.logLevel });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (kept running)'));
  const notifier = new SystemdNotifier({ env: io.env, logger: log });
  const agent = await startAgent({ settings, logger: log, notifier });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'signal received; shutting down');
      agent.stop().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(EXIT_FAILED);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      const file = values.settings;
      try {
        const next = file === undefined ? commandSettings(values, true)! : loadSettings(file);
        agent.reload(next);
      } catch (err) {
        log.error({ err }, 'settings reload failed; keeping the current settings');
      }
    });
  });
}
