import { mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';

/**
 * Where aimctl keeps what it writes by default (roll-out state files): `AIMCTL_STATE_DIR`, else
 * `$XDG_STATE_HOME/aimctl`, else `~/.local/state/aimctl`. Never the working directory, which is often
 * a source checkout.
 */
export function stateDir(env: NodeJS.ProcessEnv): string {
  if (env.AIMCTL_STATE_DIR !== undefined && env.AIMCTL_STATE_DIR !== '') return resolve(env.AIMCTL_STATE_DIR);
  const xdg = env.XDG_STATE_HOME;
  // XDG: a relative value is invalid and must be ignored.
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env.HOME ?? homedir(), '.local', 'state');
  return join(base, 'aimctl');
}

/** The state directory, created (0700: it holds fleet plans) if missing. */
export async function ensureStateDir(env: NodeJS.ProcessEnv): Promise<string> {
  const dir = stateDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The root of the git work tree that holds `path` (a `.git` dir or file on the way up), or undefined. */
export async function gitWorkTree(path: string): Promise<string | undefined> {
  let dir = dirname(resolve(path));
  const root = parse(dir).root;
  for (;;) {
    if (await stat(join(dir, '.git')).then(() => true, () => false)) return dir;
    if (dir === root) return undefined;
    dir = dirname(dir);
  }
}
