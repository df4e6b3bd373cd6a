import { readFileSync } from 'node:fs';
import { ROOT } from './procs.js';

/**
 * The command line the installed launcher runs (packaging/layout.sh writes it), pointed at this checkout:
 * node flags and the script under $PREFIX. Tests and benches that mean "the agent as deployed" use this,
 * so they cannot drift from what a drone runs.
 */
export function launcherCommand(): { nodeFlags: string[]; script: string } {
  const text = readFileSync(`${ROOT}packaging/layout.sh`, 'utf8');
  const m = /exec "\$NODE" ((?:--[\w-]+(?:=\S+)? )*)"\$PREFIX\/([^"]+)"/.exec(text);
  if (!m) throw new Error('packaging/layout.sh: no `exec "$NODE" ... "$PREFIX/..."` launcher line found');
  return { nodeFlags: m[1]!.trim().split(/\s+/).filter(Boolean), script: `${ROOT}${m[2]!}` };
}
