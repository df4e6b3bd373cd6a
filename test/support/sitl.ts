import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, type Teardown } from './procs.js';

const run = promisify(execFile);

/**
 * Real ArduPilot (ArduCopter SITL) from `../shared/sitl` next to the checkout (CI has it there too), or
 * from `AIM_SITL_DIR`. One instance per caller; instances are claimed atomically by the script, so
 * parallel test files each get their own ports.
 */
export const SITL_DIR = process.env.AIM_SITL_DIR ?? resolve(ROOT, '../shared/sitl');
const SCRIPT = join(SITL_DIR, 'sitl');
const BINARY = join(SITL_DIR, 'bin/arducopter');

export interface Sitl {
  instance: number;
  /** SERIAL0, for the agent: `tcp:127.0.0.1:5760+10N`. */
  link: string;
  /** SERIAL1: a second client (read-back behind the agent's back). */
  link2: string;
  pid: number;
  runDir: string;
  stop(): Promise<void>;
}

/** Whether this machine can run SITL (the script and the binary are there). */
export function hasSitl(): boolean {
  return existsSync(SCRIPT) && existsSync(BINARY);
}

/**
 * Under CI a missing SITL is a failure (every FC claim must be proven on ArduPilot there); elsewhere
 * the caller skips, visibly, with this message.
 */
export function requireSitl(t: { fail(msg: string): unknown; plan(n: number, msg: string): unknown }): boolean {
  if (hasSitl()) return true;
  const msg = `ArduPilot SITL not found at ${SITL_DIR} (bin/arducopter and the sitl script; set AIM_SITL_DIR)`;
  if (process.env.CI) t.fail(msg);
  else t.plan(0, `skip: ${msg}`);
  return false;
}

/**
 * `sitl start --wipe` (parameters back to the shared defaults, MNT1_TYPE=1), stopped at teardown even
 * when the test fails. Resolves once SERIAL0 listens (the script waits for that).
 */
export async function startSitl(t: Teardown, opts: { wipe?: boolean; forgetOnStop?: boolean } = {}): Promise<Sitl> {
  const args = ['start', ...(opts.wipe === false ? [] : ['--wipe'])];
  const { stdout } = await run(SCRIPT, args, { timeout: 60_000 });
  const info = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { instance: number; link: string; link2: string; pid: number; runDir: string };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await run(SCRIPT, ['stop', '-I', String(info.instance)], { timeout: 30_000 });
    // Whatever this test stored (a signing key, odd values) must not greet the next user of the
    // instance, even one that starts it without --wipe.
    if (opts.forgetOnStop === true) rmSync(join(info.runDir, 'eeprom.bin'), { force: true });
  };
  t.teardown(stop);
  return { ...info, stop };
}
