import { ownerGone, type ProcInfo } from './proc.js';

/**
 * The owner record in `aim.lock`. Written once when the lock is taken and never rewritten, so its
 * bytes identify one acquisition; the heartbeat lives in its own file (heartbeat-file.ts).
 */
export interface LockRecord {
  pid: number;
  /** `/proc/<pid>/stat` field 22, clock ticks since boot: tells a reused pid from the owner. */
  startTime: string;
  bootId: string;
  host: string;
  /** ISO wall time, informational only (the wall clock may step). */
  acquiredAt: string;
  /** Uptime (ms, /proc/uptime) when the lock was taken. */
  acquiredUptimeMs: number;
  /** ISO wall time of the latest heartbeat, informational only. */
  heartbeatAt: string;
  /** Uptime (ms) of the latest heartbeat: staleness is judged on this, never on wall time or mtimes. */
  heartbeatUptimeMs: number;
  /** Fencing token: strictly increasing over acquisitions, restarts and reboots. */
  token: number;
  /** The owner's TTL: it is stale when its heartbeat is older than this. */
  ttlMs: number;
  /** Random per acquisition; with the token it names one holding of the lock. */
  nonce: string;
  command?: string;
  /**
   * sha256 (hex) of the hand-over capability `aim-agent lock run` gives its command (Locksmith.borrow).
   * Only the hash is on disk: the capability itself lives in the child's environment alone.
   */
  capabilitySha256?: string;
}

export type LockVerdict =
  | { state: 'free' }
  | { state: 'held'; owner: LockRecord; heldMs: number; heartbeatAgeMs: number }
  | { state: 'stale'; owner: LockRecord; reason: string };

export function serializeRecord(record: LockRecord): string {
  return JSON.stringify(record) + '\n';
}

/** Parse a lock record; undefined when the bytes are not one (torn by power loss, or not ours). */
export function parseRecord(bytes: Uint8Array): LockRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const int = (k: string) => typeof r[k] === 'number' && Number.isSafeInteger(r[k]) && (r[k] as number) >= 0;
  const str = (k: string) => typeof r[k] === 'string';
  const ok =
    int('pid') && str('startTime') && str('bootId') && str('host') && str('acquiredAt') && int('acquiredUptimeMs') &&
    str('heartbeatAt') && int('heartbeatUptimeMs') && int('token') && int('ttlMs') && str('nonce') &&
    (r.command === undefined || str('command')) &&
    (r.capabilitySha256 === undefined || (str('capabilitySha256') && /^[0-9a-f]{64}$/.test(r.capabilitySha256 as string)));
  if (!ok) return undefined;
  const rec: LockRecord = {
    pid: r.pid as number,
    startTime: r.startTime as string,
    bootId: r.bootId as string,
    host: r.host as string,
    acquiredAt: r.acquiredAt as string,
    acquiredUptimeMs: r.acquiredUptimeMs as number,
    heartbeatAt: r.heartbeatAt as string,
    heartbeatUptimeMs: r.heartbeatUptimeMs as number,
    token: r.token as number,
    ttlMs: r.ttlMs as number,
    nonce: r.nonce as string,
  };
  if (typeof r.command === 'string') rec.command = r.command;
  if (typeof r.capabilitySha256 === 'string') rec.capabilitySha256 = r.capabilitySha256;
  return rec;
}

/** A stand-in owner for a record that cannot be read, so a verdict can still name the problem. */
export function unreadableRecord(): LockRecord {
  return {
    pid: 0, startTime: '0', bootId: '', host: '', acquiredAt: '', acquiredUptimeMs: 0,
    heartbeatAt: '', heartbeatUptimeMs: 0, token: 0, ttlMs: 0, nonce: '',
  };
}

/**
 * Judge a record against this machine: stale when it comes from another boot, its pid is gone or
 * belongs to another process (start time differs), or its heartbeat is older than its TTL.
 * `heartbeat` is the owner's latest beat from its heartbeat file, when there is one.
 */
export function judgeRecord(
  record: LockRecord,
  heartbeat: { uptimeMs: number; wallMs: number } | undefined,
  proc: ProcInfo,
): LockVerdict {
  const owner: LockRecord = { ...record };
  if (heartbeat !== undefined && heartbeat.uptimeMs > owner.heartbeatUptimeMs) {
    owner.heartbeatUptimeMs = heartbeat.uptimeMs;
    owner.heartbeatAt = new Date(heartbeat.wallMs).toISOString();
  }
  const gone = ownerGone(owner, proc);
  if (gone !== undefined) return { state: 'stale', owner, reason: gone };
  const now = proc.uptimeMs();
  const heartbeatAgeMs = Math.max(0, now - owner.heartbeatUptimeMs);
  if (heartbeatAgeMs > record.ttlMs) {
    return { state: 'stale', owner, reason: `heartbeat is ${heartbeatAgeMs} ms old, more than the ${record.ttlMs} ms TTL (owner pid ${record.pid} frozen or hung)` };
  }
  return { state: 'held', owner, heldMs: Math.max(0, now - record.acquiredUptimeMs), heartbeatAgeMs };
}
