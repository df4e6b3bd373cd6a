import { existsSync } from 'node:fs';
import { DEFAULT_SETTINGS_PATH, loadSettings, type Settings } from '../settings.js';

/**
 * Settings for a command: `--settings FILE` (default /etc/aim-agent/agent.json) with `--state-dir`
 * overriding stateDir. Commands that can work from the state dir alone get undefined when no settings
 * file was named and the default does not exist.
 */
export function commandSettings(values: { settings?: string | undefined; 'state-dir'?: string | undefined }, required: boolean): Settings | undefined {
  const file = values.settings ?? DEFAULT_SETTINGS_PATH;
  if (values.settings === undefined && !required && !existsSync(file)) return undefined;
  const s = loadSettings(file);
  return values['state-dir'] !== undefined ? { ...s, stateDir: values['state-dir'] } : s;
}
