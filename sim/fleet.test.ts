import t from 'tap';
import { pino } from 'pino';
import type { Ack } from '../protocol/index.js';
import { requireTool, waitFor } from '../test/support/index.js';
import { connectBroker } from '../ground/broker.js';
import { FleetLink } from '../ground/fleet-link.js';
import { aimConfig, aimctl, startBroker, summaryOf, workspace } from '../ground/test-helpers/harness.js';
import { startFleet } from './fleet.js';

// Real agents, each with its own fc-sim and state directory, against a real Mosquitto, driven by aimctl.
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

t.test('a simulated fleet of real agents: canary, waves, a deferred, a failing and an offline drone', async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const fleet = await startFleet({ brokerUrl: broker.url, size: 5, trustedKeys: [`${ws.dir}/ground.pub.pem`], agent: { fc: { paramTimeoutMs: 300, paramRetries: 1 } } });
  t.teardown(() => fleet.stop());
  const [d1, d2, d3, d4, d5] = fleet.ids as [string, string, string, string, string];
  const cli = (args: string[]) => aimctl([...args, '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', `${args[1]}.state.json`]);

  const seed = await cli(['rollout', ws.file('seed.json', aimConfig('seed', -90)), '--all', '--canary', '1', '--waves', '100%', '--timeout', '20']);
  t.equal(seed.code, 0, `the fleet takes the seed config\n${seed.err}`);
  t.equal(fleet.get(d2).fc.getParam('MNT1_PITCH_MIN'), -90);

  // A dry run on real agents: each reads its FC and acks the diff; no FC parameter moves.
  const dry = await cli(['rollout', ws.file('shadow.json', aimConfig('shadow', -70)), '--all', '--canary', '1', '--dry-run', '--timeout', '20']);
  t.equal(dry.code, 0, dry.err);
  t.ok(summaryOf(dry).drones.every((r) => r.state === 'dry-run'), 'every drone acked dry-run');
  const diff = dry.events.find((e) => e.event === 'drone' && e.state === 'dry-run');
  t.match(diff?.event === 'drone' ? diff.params?.find((p) => p.name === 'MNT1_PITCH_MIN') : undefined, { want: -70, got: -90 }, 'the diff is in the ack');
  for (const d of fleet.ids) t.equal(fleet.get(d).fc.getParam('MNT1_PITCH_MIN'), -90, `${d}'s FC untouched`);

  // Faults, now that every drone has a known previous config.
  const client = await connectBroker({ url: broker.url, topicPrefix: 'aim' });
  const watch = await FleetLink.open(client, { topicPrefix: 'aim', drones: [d3, d5], logger: pino({ level: 'silent' }) });
  t.teardown(() => watch.close());
  fleet.get(d3).setArmed(true);
  fleet.get(d4).failVerification(true);
  await fleet.get(d5).goOffline();
  // The agent learns "armed" from the FC's next HEARTBEAT and says so in its retained status.
  await waitFor(`${d3} to report armed`, () => watch.view(d3).status?.armed === true && watch.view(d5).status?.state === 'offline');
  // d3 is disarmed as soon as it defers: the wave waits for its final ack.
  watch.on('ack', (_d: string, ack: Ack) => ack.status === 'deferred' && fleet.get(d3).setArmed(false));

  const next = ws.file('next.json', aimConfig('next', -60, { apply: { when: 'disarmed' } }));
  const run = await cli(['rollout', next, '--drones', fleet.ids.join(','), '--canary', '1', '--waves', '60%,100%', '--max-failures', '2', '--timeout', '15']);
  t.equal(run.code, 1, 'not every drone applied');
  const s = summaryOf(run);
  t.equal(s.result, 'completed-with-failures');
  for (const d of [d1, d2, d3]) {
    t.equal(s.byDrone.get(d)!.state, 'applied', `${d} applied`);
    t.equal(fleet.get(d).fc.getParam('MNT1_PITCH_MIN'), -60, `${d}'s FC has the new limit`);
  }
  t.ok(run.events.some((e) => e.event === 'drone' && e.drone === d3 && e.state === 'deferred'), `${d3} deferred first`);
  t.match(s.byDrone.get(d4)!.state, /^(failed|timeout)$/, `${d4} could not verify its FC`);
  t.equal(s.byDrone.get(d5)!.state, 'offline');
  t.equal(fleet.get(d5).fc.getParam('MNT1_PITCH_MIN'), -90, 'the offline drone was not touched');

  // --rollback on real agents: d4 (FC still frozen) fails in wave 1; d1 and d2 go back to 'next' on their FCs.
  // d4 still runs 'seed' while its retained desired is the 'next' it failed: the operator's copy of seed.json
  // is matched by sha256 and is what d4 would get back.
  const third = ws.file('third.json', aimConfig('third', -45));
  const rb = await cli(['rollout', third, '--drones', [d1, d2, d4].join(','), '--canary', '1', '--waves', '100%', '--rollback', '--timeout', '10', '--previous-config', `${ws.dir}/seed.json`]);
  t.equal(rb.code, 1, rb.err);
  const r = summaryOf(rb);
  // As in the waves above: a frozen FC ends in the agent's failed ack or, when its retries outlast the
  // wave's --timeout on a loaded machine, in aimctl's timeout; either halts the roll-out.
  t.match(r.byDrone.get(d4)!.state, /^(failed|timeout)$/, `${d4} failed`);
  for (const d of [d1, d2]) {
    t.equal(r.byDrone.get(d)!.rollback, 'restored', `${d} restored`);
    t.equal(fleet.get(d).fc.getParam('MNT1_PITCH_MIN'), -60, `${d}'s FC is back on the previous limit`);
  }
  t.equal(fleet.get(d1).fc.getParam('MNT1_PITCH_MIN'), -60);
});

t.test("the issue's three drones: one FC link down, halt + rollback; after its restart it applies the rollback, not the halted config", async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const fleet = await startFleet({ brokerUrl: broker.url, size: 3, trustedKeys: [`${ws.dir}/ground.pub.pem`], agent: { fc: { paramTimeoutMs: 300, paramRetries: 1 } } });
  t.teardown(() => fleet.stop());
  const [d1, d2, d3] = fleet.ids as [string, string, string];
  const cli = (args: string[]) => aimctl([...args, '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', `${args[1]}.state.json`]);
  const seed = await cli(['rollout', ws.file('v1.json', aimConfig('v1', -90)), '--all', '--canary', '1', '--waves', '100%', '--timeout', '20']);
  t.equal(seed.code, 0, seed.err);

  fleet.get(d3).failVerification(true);
  const run = await cli(['rollout', ws.file('hotfix2.json', aimConfig('hotfix2', -60)), '--all', '--canary', '1', '--waves', '50%,100%', '--rollback', '--timeout', '15']);
  t.equal(run.code, 1);
  const s = summaryOf(run);
  t.equal(s.byDrone.get(d3)!.state, 'failed', `${d3} answered failed`);
  t.match(run.events.find((e) => e.event === 'rollback-start'), { version: 3, drones: [d1, d2, d3] }, `${d3} is rolled back too`);
  for (const d of [d1, d2]) {
    t.equal(s.byDrone.get(d)!.rollback, 'restored');
    t.equal(fleet.get(d).fc.getParam('MNT1_PITCH_MIN'), -90, `${d}'s FC is back on v1's limit`);
  }
  const client = await connectBroker({ url: broker.url, topicPrefix: 'aim' });
  const watch = await FleetLink.open(client, { topicPrefix: 'aim', drones: [d3], logger: pino({ level: 'silent' }) });
  t.teardown(() => watch.close());
  t.match(watch.view(d3).desired?.config, { version: 3, id: 'v1' }, `${d3}'s retained desired is the rollback config, not the halted v2`);

  // Its FC comes back and the companion computer reboots: the agent applies what is retained.
  fleet.get(d3).failVerification(false);
  await fleet.get(d3).goOffline();
  await fleet.get(d3).goOnline();
  await waitFor(`${d3} to report version 3`, () => watch.view(d3).reported?.version === 3, { timeoutMs: 20_000 });
  t.equal(fleet.get(d3).fc.getParam('MNT1_PITCH_MIN'), -90, `${d3}'s FC runs v1's limit: the halted config never landed`);
  const status = await aimctl(['status', '--json', '--broker', broker.url]);
  const rows = status.out.trim().split('\n').map((l) => JSON.parse(l) as { drone: string; appliedVersion: number; offTarget: boolean });
  t.same(rows.map((r) => [r.drone, r.appliedVersion, r.offTarget]), [[d1, 3, false], [d2, 3, false], [d3, 3, false]], 'the fleet is one again: 3/3/3');
});
