import { execFileSync } from 'node:child_process';

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

export function hasTool(tool: string): boolean {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin']) {
    try {
      execFileSync('test', ['-x', `${dir}/${tool}`]);
      return true;
    } catch {
      /* not here */
    }
  }
  return false;
}

/** Full path of a tool, searching sbin too (mosquitto lives in /usr/sbin, often off a user's PATH). */
export function toolPath(tool: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin']) {
    try {
      execFileSync('test', ['-x', `${dir}/${tool}`]);
      return `${dir}/${tool}`;
    } catch {
      /* not here */
    }
  }
  return tool;
}
