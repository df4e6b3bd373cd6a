import t from 'tap';
import { common } from 'node-mavlink';
import { MAV_PARAM_TYPE, MOUNT_PARAMS } from '../protocol/param-table.js';
import { downloadParamList, type ListedParam } from '../scripts/gen-sitl-params.js';
import { requireSitl, startSitl } from '../test/support/sitl.js';
import { startFcSim } from './fc-sim.js';
import { SIM_PARAM_DEFS } from './param-defaults.js';
import { SITL_PARAM_COUNT } from './sitl-params.js';
import { TestGcs } from './test-helpers/gcs.js';

/** Values SITL sets for itself at every boot (barometer calibration), so a live default differs run to run. */
const VOLATILE = /^BARO\d_GND_PRESS$/;

const table = SIM_PARAM_DEFS.map((d) => ({ name: d.name, type: MAV_PARAM_TYPE[d.type], value: d.default }));

/** Name → "TYPE DEFAULT" lines that differ between two lists (both ways), ignoring volatile values. */
function differences(a: readonly ListedParam[], b: readonly ListedParam[]): string[] {
  const key = (p: ListedParam) => `${p.type} ${VOLATILE.test(p.name) ? '*' : Math.fround(p.value)}`;
  const bm = new Map(b.map((p) => [p.name, key(p)]));
  const am = new Map(a.map((p) => [p.name, key(p)]));
  const out: string[] = [];
  for (const [n, k] of am) if (bm.get(n) !== k) out.push(`${n}: ${k} vs ${bm.get(n) ?? 'absent'}`);
  for (const n of bm.keys()) if (!am.has(n)) out.push(`${n}: absent vs ${bm.get(n)}`);
  return out;
}

t.test('fc-sim lists exactly the generated SITL table: names, types, defaults, order', async (t) => {
  const sim = await startFcSim({ link: 'tcp:127.0.0.1:0' });
  t.teardown(() => sim.stop());
  const listed = await downloadParamList(sim.link);
  t.equal(listed.params.length, SITL_PARAM_COUNT, `${SITL_PARAM_COUNT} parameters, as ArduCopter 4.7 SITL with the servo mount`);
  t.same(differences(listed.params, table), [], 'no name, type or default differs');
  t.same(listed.params.map((p) => p.name), table.map((p) => p.name), 'same order (same indexes)');
});

t.test('fc-sim is silent about names ArduCopter 4.7 does not have, and denies what SITL denies', async (t) => {
  const sim = await startFcSim({ link: 'tcp:127.0.0.1:0', readLatencyMs: 0 });
  t.teardown(() => sim.stop());
  const gcs = await TestGcs.connect(sim.link);
  t.teardown(() => gcs.close());
  for (const name of ['TELEM_DELAY', 'SERIAL0_OPTIONS', 'SYSID_THISMAV']) {
    const since = gcs.mark();
    gcs.send(TestGcs.paramRead(name));
    gcs.send(TestGcs.paramSet(name, 1));
    await t.rejects(gcs.wait(common.ParamValue, (m) => m.paramId === name, { since, timeoutMs: 300 }), /timed out/, `${name}: silence`);
  }
  const readOnly = SIM_PARAM_DEFS.filter((d) => d.readOnly).map((d) => d.name);
  t.ok(readOnly.includes('MNT1_DEVID'));
  for (const name of readOnly) {
    const since = gcs.mark();
    gcs.send(TestGcs.paramSet(name, 7));
    const text = await gcs.wait(common.StatusText, (m) => m.text === `Param write denied (${name})`, { since, timeoutMs: 1000 });
    t.ok(text, `${name} denied`);
  }
});

t.test('the agent\'s mount table (protocol/param-table.ts) has SITL\'s types, defaults and read-only flags', async (t) => {
  const byName = new Map(SIM_PARAM_DEFS.map((d) => [d.name, d]));
  // MNT1_TYPE: ArduPilot's default is 0; the SITL defaults file (mount.parm) sets 1.
  const wrong = MOUNT_PARAMS.flatMap((p) => {
    const d = byName.get(p.name);
    if (d === undefined) return [`${p.name}: not on ArduCopter 4.7`];
    const dflt = p.name === 'MNT1_TYPE' ? 1 : p.default;
    return d.type === p.type && d.default === dflt && (d.readOnly ?? false) === (p.readOnly ?? false) ? [] : [`${p.name}: ${p.type} ${p.default} ro=${p.readOnly ?? false} vs SITL ${d.type} ${d.default} ro=${d.readOnly ?? false}`];
  });
  t.same(wrong, []);
});

t.test('the generated table matches a live SITL (regenerate with npm run gen:sitl-params)', async (t) => {
  if (!requireSitl(t)) return;
  const sitl = await startSitl(t);
  const live = await downloadParamList(sitl.link);
  t.equal(live.params.length, SITL_PARAM_COUNT);
  t.same(differences(live.params, table), [], 'names, types and defaults as committed');
  const gcs = await TestGcs.connect(sitl.link);
  t.teardown(() => gcs.close());
  const since = gcs.mark();
  gcs.send(TestGcs.paramSet('MNT1_DEVID', 7, MAV_PARAM_TYPE.INT32));
  await gcs.wait(common.StatusText, (m) => m.text === 'Param write denied (MNT1_DEVID)', { since, timeoutMs: 2000 });
  t.pass('SITL denies MNT1_DEVID, as the table says');
});
