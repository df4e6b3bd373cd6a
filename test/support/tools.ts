import { accessSync, constants, existsSync } from 'node:fs';

/**
 * Whether an external tool (socat, mosquitto, systemd-analyze) is on this machine. Under CI a missing
 * tool is a failure that says what to install; outside CI the test may skip with that message.
 */
export function requireTool(t: { fail(msg: string): unknown; skip?: (msg: string) => unknown; comment?: (...args: unknown[]) => unknown }, tool: string, pkg = tool): boolean {
  if (hasTool(tool)) return true;
  const msg = `${tool} not found: apt-get install -y ${pkg}`;
  if (process.env.CI) t.fail(msg);
  else if (t.skip) t.skip(msg);
  else t.comment?.(`skipped: ${msg}`);
  return false;
}

const TOOL_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin'];

function findTool(tool: string): string | undefined {
  for (const dir of TOOL_DIRS) {
    try {
      accessSync(`${dir}/${tool}`, constants.X_OK);
      return `${dir}/${tool}`;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export function hasTool(tool: string): boolean {
  return findTool(tool) !== undefined;
}

/** Full path of a tool, searching sbin too (mosquitto lives in /usr/sbin, often off a user's PATH). */
export function toolPath(tool: string): string {
  return findTool(tool) ?? tool;
}

/**
 * Whether a built file a test runs exists (`npm test` builds first). Under CI its absence is a failure;
 * outside CI the test is skipped with the command to run.
 */
export function requireBuild(t: { fail(msg: string): unknown; plan(n: number, msg: string): unknown }, file: string): boolean {
  if (existsSync(file)) return true;
  const msg = `${file} is missing: run \`npm run build\` before this test`;
  if (process.env.CI) t.fail(msg);
  else t.plan(0, msg);
  return false;
}
