import type { AimConfig } from '../../protocol/index.js';

const MIN_LIFETIME_MS = 3600_000;

/**
 * The config a rollback re-issues: the drone's previous document, unchanged in what it sets, under a new
 * (higher) version. `issuedAt` is now, and an `expiresAt` keeps its original lifetime from now (at least
 * an hour), because the original one has often passed by the time a roll-out goes wrong.
 */
export function rollbackConfig(previous: AimConfig, version: number, now: Date): AimConfig {
  const { expiresAt, issuedAt, apply, ...rest } = previous;
  const cfg: AimConfig = { ...rest, version, issuedAt: now.toISOString() };
  if (apply !== undefined) {
    const { dryRun: _dryRun, ...keep } = apply;
    cfg.apply = keep;
  }
  if (expiresAt !== undefined) {
    const lifetime = Math.max(Date.parse(expiresAt) - Date.parse(issuedAt), MIN_LIFETIME_MS);
    cfg.expiresAt = new Date(now.getTime() + lifetime).toISOString();
  }
  return cfg;
}
