import type { Settings } from '../settings.js';

/** Settings a reload takes at once; every other change waits for a restart. */
const RELOADABLE = ['security.', 'logLevel', 'apply.', 'fc.paramTimeoutMs', 'fc.paramRetries', 'lock.acquireTimeoutS'];
const isReloadable = (path: string) => RELOADABLE.some((r) => (r.endsWith('.') ? path.startsWith(r) : path === r));

/**
 * Merge a reload into the running settings: the reloadable parts are taken, the rest stays as it
 * was until a restart. Returns the merged settings and the dotted paths of each kind of change.
 */
export function mergeReload(current: Settings, next: Settings): { settings: Settings; applied: string[]; needRestart: string[] } {
  const changed = changedSettings(current, next);
  const settings: Settings = {
    ...current,
    security: next.security,
    logLevel: next.logLevel,
    apply: next.apply,
    fc: { ...current.fc, paramTimeoutMs: next.fc.paramTimeoutMs, paramRetries: next.fc.paramRetries },
    lock: { ...current.lock, acquireTimeoutS: next.lock.acquireTimeoutS },
  };
  return { settings, applied: changed.filter(isReloadable), needRestart: changed.filter((p) => !isReloadable(p)) };
}

/** Dotted paths of the leaf settings that differ (arrays compare whole). */
function changedSettings(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => changedSettings(a[k], b[k], prefix ? `${prefix}.${k}` : k));
}
