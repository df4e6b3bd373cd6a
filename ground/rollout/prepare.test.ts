import t from 'tap';
import { canonicalSha256, isAimError, type AimConfig } from '../../protocol/index.js';
import type { SignedConfig } from '../config-io.js';
import type { DroneView } from '../fleet-link.js';
import { parseAmount } from './amount.js';
import { OPERATOR_PREVIOUS, prepareRollout, type RolloutRequest } from './prepare.js';
import { parseWaves } from './waves.js';

const cfg = (id: string, version: number, extra: Partial<AimConfig> = {}): AimConfig => ({ kind: 'aim-config', schemaVersion: 1, version, id, issuedAt: '2026-11-26T13:00:00Z', ...extra });
const fakeSign = (c: AimConfig): SignedConfig => ({ version: c.version, id: c.id, sha256: canonicalSha256(c), jws: `jws:${canonicalJson(c)}` });
const canonicalJson = (c: AimConfig) => JSON.stringify(c);
const online = { state: 'online' as const };
const applied = (c: AimConfig): DroneView => ({
  status: online,
  reported: { version: c.version, id: c.id, sha256: canonicalSha256(c), appliedAt: '2026-11-26T13:00:01Z', fc: { verified: true, drift: [] } },
  desired: { config: c, sha256: canonicalSha256(c) },
});

function request(over: Partial<RolloutRequest> = {}): RolloutRequest {
  return {
    rolloutId: 'ro-test',
    brokerUrl: 'mqtt://b',
    topicPrefix: 'aim',
    config: cfg('next', 1),
    drones: ['a', 'b', 'c', 'd'],
    canary: 1,
    waves: parseWaves('50%,100%'),
    maxFailures: parseAmount('25%'),
    timeoutS: 30,
    dryRun: false,
    rollback: true,
    skipOffline: false,
    now: new Date('2026-11-26T14:00:00Z'),
    ...over,
  };
}

t.test('version = highest applied, reported or desired version + 1; the previous configs are captured', async (t) => {
  const v3 = cfg('three', 3);
  const views: Record<string, DroneView> = { a: applied(v3), b: applied(cfg('seven', 7)), c: { ...applied(v3), desired: { config: cfg('pending', 9), sha256: 'x'.repeat(64) } }, d: applied(v3) };
  const s = prepareRollout(request(), (d) => views[d] ?? {}, fakeSign);
  t.equal(s.config.version, 10);
  t.equal(s.allowedFailures, 1, '25% of 4');
  t.same(s.waves.map((w) => w.drones), [['a'], ['b'], ['c', 'd']]);
  t.same(s.drones.c!.previous, { version: 3, id: 'three', sha256: canonicalSha256(v3) });
  t.equal(s.drones.c!.previousKey, canonicalSha256(v3), "c's own desired is a pending v9, but a's retained desired is the v3 it runs");
  t.same(s.previousConfigs[canonicalSha256(v3)], v3);
  t.equal(Object.keys(s.previousConfigs).length, 2, 'one document per distinct previous config');
});

t.test('--version must be above every applied version', async (t) => {
  const views: Record<string, DroneView> = { a: applied(cfg('x', 4)), b: applied(cfg('y', 2)) };
  t.throws(() => prepareRollout(request({ drones: ['a', 'b'], version: 4 }), (d) => views[d] ?? {}, fakeSign), /--version 4 is not above .* on a/);
  t.equal(prepareRollout(request({ drones: ['a', 'b'], version: 5 }), (d) => views[d] ?? {}, fakeSign).config.version, 5);
});

t.test('--rollback is refused when a previous config cannot be found; an operator file fills in', async (t) => {
  const lost = { ...applied(cfg('lost', 2)), desired: undefined };
  const views: Record<string, DroneView> = { a: applied(cfg('x', 2)), b: lost };
  try {
    prepareRollout(request({ drones: ['a', 'b'] }), (d) => views[d] ?? {}, fakeSign);
    t.fail('should refuse');
  } catch (err) {
    t.ok(isAimError(err, 'AIM_ERR_USAGE'));
    t.match((err as Error).message, /cannot restore b/);
  }
  t.doesNotThrow(() => prepareRollout(request({ drones: ['a', 'b'], rollback: false }), (d) => views[d] ?? {}, fakeSign), 'fine without --rollback');
  const s = prepareRollout(request({ drones: ['a', 'b'], previousConfigs: [cfg('lost', 2)] }), (d) => views[d] ?? {}, fakeSign);
  t.equal(s.drones.b!.previousKey, canonicalSha256(cfg('lost', 2)), 'the operator file matched by sha256');
  const f = prepareRollout(request({ drones: ['a', 'b'], previousConfigs: [cfg('fallback', 1)] }), (d) => views[d] ?? {}, fakeSign);
  t.equal(f.drones.b!.previousKey, OPERATOR_PREVIOUS, 'no match: the first file is the fallback');
});

t.test('--skip-offline leaves offline and silent drones out of the plan and the threshold', async (t) => {
  const views: Record<string, DroneView> = { a: { ...applied(cfg('x', 1)), status: { state: 'offline' } }, b: applied(cfg('x', 1)), c: {}, d: applied(cfg('x', 1)) };
  const s = prepareRollout(request({ skipOffline: true, rollback: false, maxFailures: parseAmount('50%') }), (d) => views[d] ?? {}, fakeSign);
  t.same(s.waves.map((w) => w.drones), [['b'], ['d']]);
  t.equal(s.drones.a!.state, 'skipped');
  t.equal(s.drones.c!.state, 'skipped');
  t.equal(s.allowedFailures, 1, '50% of the 2 planned drones');
  t.throws(() => prepareRollout(request({ skipOffline: true, drones: ['a', 'c'] }), (d) => views[d] ?? {}, fakeSign), /every targeted drone is offline/);
});

t.test('a dry run signs the shadow form; a config whose targets leave a drone out is refused', async (t) => {
  const views = (_: string) => applied(cfg('x', 1));
  const s = prepareRollout(request({ dryRun: true }), views, fakeSign);
  t.ok(s.dryRun);
  t.match(s.config.jws, /"dryRun":true/);
  const own = prepareRollout(request({ config: cfg('n', 1, { apply: { when: 'immediate', dryRun: true } }), rollback: false }), views, fakeSign);
  t.ok(own.dryRun, 'a config that is itself a dry run makes a dry run');
  t.throws(() => prepareRollout(request({ config: cfg('n', 1, { targets: ['a', 'b'] }) }), views, fakeSign), /do not include c, d/);
});
