import { existsSync, statSync } from 'node:fs';
import { AimError, loadPublicKeyFile, trustStore, type TrustedKey } from '../../protocol/index.js';
import { DEFAULT_SETTINGS_PATH, loadSettings, type Settings } from '../settings.js';

/** A settings file the operator named (or the default): a missing one is `FILE: no such file` [AIM_ERR_SETTINGS]. */
export function loadSettingsFile(file: string): Settings {
  if (!existsSync(file)) throw new AimError('AIM_ERR_SETTINGS', `${file}: no such file`, { details: { path: file } });
  return loadSettings(file);
}

/**
 * Settings for a command: `--settings FILE` (default /etc/aim-agent/agent.json) with `--state-dir`
 * overriding stateDir. Commands that can work from the state dir alone get undefined when no settings
 * file was named and the default does not exist; a named file must exist.
 */
export function commandSettings(values: { settings?: string | undefined; 'state-dir'?: string | undefined }, required: boolean): Settings | undefined {
  const file = values.settings ?? DEFAULT_SETTINGS_PATH;
  if (values.settings === undefined && !required && !existsSync(file)) return undefined;
  const s = loadSettingsFile(file);
  return values['state-dir'] !== undefined ? { ...s, stateDir: values['state-dir'] } : s;
}

/** The trusted public keys, each file read the one way (`path: no such file` [AIM_ERR_KEY]); private keys are refused. */
export function loadTrustedKeyFiles(files: readonly string[]): Map<string, TrustedKey> {
  return trustStore(files.map(loadPublicKeyFile), files);
}

/** A state directory a command only reads must exist: a typo must not read as "free" or "nothing applied". */
export function existingStateDir(dir: string): string {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new AimError('AIM_ERR_STORE_IO', `${dir}: no such directory (the state directory)`, { details: { path: dir } });
  }
  if (!isDir) throw new AimError('AIM_ERR_STORE_IO', `${dir}: not a directory (the state directory)`, { details: { path: dir } });
  return dir;
}
