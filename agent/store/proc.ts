import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * What the lock needs to know about this machine's processes and time. The default reads /proc;
 * tests pass their own to drive time or fake a reboot.
 */
export interface ProcInfo {
  readonly pid: number;
  /** `/proc/sys/kernel/random/boot_id`: a new value every boot, but see ownerGone(): not the same for every process. */
  bootId(): string;
  /**
   * Milliseconds since boot from `/proc/uptime` (CLOCK_BOOTTIME: monotonic, counts suspend, one clock
   * for every process on this boot). Never wall time: a Pi has no RTC and NTP steps the clock at boot.
   */
  uptimeMs(): number;
  /** `/proc/<pid>/stat` field 22 (start time, clock ticks since boot); undefined when the pid is gone or a zombie. */
  startTime(pid: number): string | undefined;
  hostname(): string;
}

/** Parse `/proc/<pid>/stat`: the command name may hold spaces and parentheses, so split after the last ')'. */
export function parseProcStat(stat: string): { state: string; startTime: string } | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime)) return undefined;
  return { state, startTime };
}

export function readStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseProcStat(stat);
  // A zombie (Z) or dying (X) process has exited; its pid only waits for its parent to reap it.
  if (parsed === undefined || parsed.state === 'Z' || parsed.state === 'X') return undefined;
  return parsed.startTime;
}

export function readUptimeMs(): number {
  const first = readFileSync('/proc/uptime', 'utf8').split(' ')[0] ?? '';
  const seconds = Number(first);
  if (!Number.isFinite(seconds)) throw new Error(`/proc/uptime: unexpected content '${first}'`);
  return Math.round(seconds * 1000);
}

let bootIdCache: string | undefined;
export function readBootId(): string {
  bootIdCache ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootIdCache;
}

export const procInfo: ProcInfo = {
  pid: process.pid,
  bootId: readBootId,
  uptimeMs: readUptimeMs,
  startTime: readStartTime,
  hostname: () => hostname(),
};

/**
 * A tag naming the process that made a temp file or tombstone (`<boot8>-<pid>-<starttime>`), so a
 * later start can tell a crash leftover from a file another live process is still writing.
 */
export function ownerTag(proc: ProcInfo = procInfo): string {
  let tag = tagCache.get(proc);
  if (tag === undefined) {
    tag = `${proc.bootId().replace(/-/g, '').slice(0, 8)}-${proc.pid}-${proc.startTime(proc.pid) ?? '0'}`;
    tagCache.set(proc, tag);
  }
  return tag;
}
const tagCache = new WeakMap<ProcInfo, string>();

/**
 * True when the process named by `tag` is still running: its pid lives with the same start time.
 * The boot id in the tag is not consulted, for the reason ownerGone() gives.
 */
export function isTagAlive(tag: string, proc: ProcInfo = procInfo): boolean {
  const m = /^([0-9a-f]{8})-(\d+)-(\d+)$/.exec(tag);
  if (m === null) return false;
  return proc.startTime(Number(m[2])) === m[3];
}

/**
 * Why the process that wrote a lock record is gone, or undefined while it lives.
 *
 * A live pid whose start time matches is alive whatever boot id it recorded: the boot id a process
 * sees depends on its sandbox (systemd-nspawn gives a container its own, while the service's
 * ProtectKernelTunables=yes shows it the kernel's), so two live processes of one system can disagree
 * on it. The boot id only names the reason when the owner is gone, and settles the one case the pid
 * check cannot: a record from a real earlier boot whose pid and start tick happen to match a process
 * of this boot is caught when its heartbeat lies ahead of this boot's clock, and otherwise by the TTL.
 */
export function ownerGone(owner: { pid: number; startTime: string; bootId: string; heartbeatUptimeMs: number }, proc: ProcInfo = procInfo): string | undefined {
  const otherBoot = owner.bootId !== proc.bootId();
  const fromOtherBoot = `owner is from another boot (boot id ${owner.bootId || '?'})`;
  const startTime = proc.startTime(owner.pid);
  if (startTime === undefined) return otherBoot ? fromOtherBoot : `owner pid ${owner.pid} is gone`;
  if (startTime !== owner.startTime) {
    return otherBoot ? fromOtherBoot : `pid ${owner.pid} now belongs to another process (start time ${startTime}, owner's ${owner.startTime})`;
  }
  if (otherBoot && owner.heartbeatUptimeMs > proc.uptimeMs()) return fromOtherBoot;
  return undefined;
}
