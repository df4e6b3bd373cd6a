import t from 'tap';
import { pino } from 'pino';
import { requireTool } from '../test/support/index.js';
import { connectBroker } from './broker.js';
import { FleetLink } from './fleet-link.js';
import { startBroker } from './test-helpers/harness.js';

// FleetLink subscribes per drone for a short list and to the fleet's wildcards (filtered) for a long one.
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

t.test('a long drone list: wildcard subscriptions, and only the named drones are seen', async (t) => {
  const broker = await startBroker(t);
  const pub = await connectBroker({ url: broker.url, topicPrefix: 'aim' });
  t.teardown(() => pub.endAsync());
  const named = Array.from({ length: 60 }, (_, i) => `n${i}`);
  await Promise.all([...named, 'outsider'].map((d) => pub.publishAsync(`aim/${d}/status`, JSON.stringify({ state: 'online' }), { qos: 1, retain: true })));
  const logger = pino({ level: 'silent' });
  for (const list of [named, named.slice(0, 3)]) {
    const client = await connectBroker({ url: broker.url, topicPrefix: 'aim' });
    const link = await FleetLink.open(client, { topicPrefix: 'aim', drones: list, logger });
    t.same(link.knownDrones(), [...list].sort(), `${list.length} named drones: each seen, the outsider not`);
    const acks: string[] = [];
    link.on('ack', (d) => acks.push(d));
    link.ackInterest = (d) => d !== list[0];
    const ack = { version: 1, id: 'x', sha256: null, status: 'rejected', stage: 'verify', reason: 'x', errors: [], params: [], aim: null, lockToken: null, timings: { totalMs: 0, pushMs: null }, at: '2026-11-26T13:00:00.000Z' };
    for (const d of [list[0]!, list[1]!, 'outsider']) await pub.publishAsync(`aim/${d}/config/ack`, JSON.stringify(ack), { qos: 1 });
    await link.sync();
    t.same(acks, [list[1]], 'acks of drones nobody waits for, and of drones not named, are dropped');
    await link.close();
  }
});
