import type { Reported } from '../../protocol/index.js';
import type { ReconcileResult } from './reconcile.js';

/**
 * The `fc` part of `reported` after a reconciliation. After a verified repair the FC matches the aim
 * file, so `drift` is empty; what was pushed back moves to `repaired`, with `repairedAt`. (Publishing
 * the pre-repair drift made `aimctl status` show drift on a drone whose FC was already fixed.)
 */
export function reportedFc(r: Pick<ReconcileResult, 'state' | 'drift'>, now: Date): Reported['fc'] {
  const verified = r.state === 'in-sync' || r.state === 'repaired';
  if (r.state !== 'repaired') return { verified, drift: r.drift };
  return { verified, drift: [], driftRepaired: true, repairedAt: now.toISOString(), repaired: r.drift };
}
