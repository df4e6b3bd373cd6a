import { isAimError, type PathError } from '../../protocol/index.js';
import { EXIT_FAILED, EXIT_OK, parseCommandArgs, UsageError, type CliIO } from '../cli-io.js';
import { checkSettingsFiles } from '../service/keys.js';
import { DEFAULT_SETTINGS_PATH, loadSettings } from '../settings.js';

const USAGE = 'usage: aim-agent check-settings [--settings FILE]';

/**
 * `aim-agent check-settings`: load the settings file and every file it names (trusted keys, MAVLink
 * signing key, broker credentials) exactly as `run` and a reload do. Exit 0 with one line on stdout,
 * 1 with `path: message` lines on stderr. The unit's ExecReload runs it before `kill -HUP`, so
 * `systemctl reload` fails on settings the agent would refuse.
 */
export async function checkSettingsCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { settings: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n${USAGE}`);
  const file = values.settings ?? DEFAULT_SETTINGS_PATH;
  let errors: PathError[];
  try {
    errors = checkSettingsFiles(loadSettings(file)).errors;
  } catch (err) {
    if (!isAimError(err, 'AIM_ERR_SETTINGS')) throw err;
    const listed = (err.details as { errors?: PathError[] } | undefined)?.errors;
    // An unreadable file has no per-field findings; its message already reads `FILE: reason`.
    errors = listed ?? [{ path: file, message: err.message.replace(`${file}: `, '') }];
  }
  if (errors.length > 0) {
    io.err(errors.map((e) => `${e.path}: ${e.message}\n`).join(''));
    return EXIT_FAILED;
  }
  io.out(`${file}: settings and the files they name load\n`);
  return EXIT_OK;
}
