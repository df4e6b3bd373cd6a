import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { spawnTracked, type Teardown, type Tracked } from './procs.js';
import { toolPath } from './tools.js';

export interface Mosquitto {
  url: string;
  port: number;
  dir: string;
  proc: Tracked;
  /** Kill (SIGKILL by default) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port with the same persistence file. */
  restart(): Promise<void>;
}

/**
 * A real Mosquitto on a random 127.0.0.1 port, in its own temp dir, stopped at teardown.
 * `extraConfig` lines are appended (ACLs, password files); `persistence` keeps sessions across restart.
 */
export async function startMosquitto(t: Teardown, opts: { persistence?: boolean; extraConfig?: string[]; port?: number } = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'aim-mosq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = opts.port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    opts.extraConfig?.some((l) => l.startsWith('password_file') || l.startsWith('allow_anonymous')) ? '' : 'allow_anonymous true',
    `persistence ${opts.persistence ? 'true' : 'false'}`,
    `persistence_location ${dir}/`,
    'log_dest stderr', // unbuffered, so the ready line arrives at once
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    ...(opts.extraConfig ?? []),
  ];
  writeFileSync(conf, lines.join('\n') + '\n');
  const start = async () => {
    const proc = spawnTracked(t, toolPath('mosquitto'), ['-c', conf]);
    // 'running' is logged once the listener is bound ('Opening … socket' comes before the bind).
    await proc.waitForLine(/mosquitto version .* running/, 10000);
    return proc;
  };
  const m: Mosquitto = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    proc: await start(),
    async stop(signal = 'SIGKILL') {
      m.proc.kill(signal);
      await m.proc.exited;
    },
    async restart() {
      m.proc = await start();
    },
  };
  return m;
}
