import t from 'tap';
import { validateAimConfig } from '../../protocol/index.js';
import { rollbackConfig } from './rollback-config.js';

t.test('a rollback config is the previous document under a new version, fresh in time', async (t) => {
  const prev = {
    kind: 'aim-config' as const,
    schemaVersion: 1 as const,
    version: 4,
    id: 'good-one',
    issuedAt: '2026-11-20T10:00:00Z',
    expiresAt: '2026-11-20T12:00:00Z',
    apply: { when: 'disarmed' as const, deadlineSec: 600 },
    mount: { pitch: { minDeg: -90, maxDeg: 20 } },
  };
  const now = new Date('2026-11-26T14:00:00Z');
  const rb = rollbackConfig(prev, 9, now);
  t.match(rb, { version: 9, id: 'good-one', issuedAt: '2026-11-26T14:00:00.000Z', expiresAt: '2026-11-26T16:00:00.000Z', apply: { when: 'disarmed', deadlineSec: 600 }, mount: prev.mount });
  t.ok(validateAimConfig(rb).ok);
  const short = rollbackConfig({ ...prev, expiresAt: '2026-11-20T10:00:05Z' }, 9, now);
  t.equal(short.expiresAt, '2026-11-26T15:00:00.000Z', 'at least an hour to live');
  const dry = rollbackConfig({ ...prev, apply: { when: 'immediate', dryRun: true } }, 9, now);
  t.same(dry.apply, { when: 'immediate' }, 'never a dry run');
  t.notOk('expiresAt' in rollbackConfig({ ...prev, expiresAt: undefined }, 9, now) && rollbackConfig({ ...prev, expiresAt: undefined }, 9, now).expiresAt !== undefined);
});
