import { common } from 'node-mavlink';
import t, { type Test } from 'tap';
import { openFcLink, type FcLink, type FcLinkOptions, type ParamSetItem } from '../agent/fc/index.js';
import { CAST_PROBE_PARAMS, MEASURED_CASTS } from '../protocol/param-cast-facts.js';
import { MAV_PARAM_TYPE, MOUNT_PARAMS, paramSpec } from '../protocol/param-table.js';
import { TestGcs } from '../sim/test-helpers/gcs.js';
import { nextEvent, requireTool, waitFor, type Teardown } from '../test/support/index.js';
import { requireSitl } from '../test/support/sitl.js';
import { fcTargets, isSitlKind, sharedSitl, startTarget, type SimControl } from './fc-target.js';

// One suite for every flight controller: fc-sim over a pty at 57600 and over TCP, then real ArduPilot
// SITL over TCP and at 57600 through a pacing bridge (or only the FC named by AIM_FC, e.g. a bench
// drone). Cases marked SIM-ONLY need fc-sim's controls (impairments, kill/restart, pty recreation) and
// are skipped, saying why, on the others. See hw-tests/README.md.

/** One SITL for this file, shared by both SITL targets; stopped when the file ends. */
const sitl = sharedSitl(t);

const CAP_PARAM_ENCODE_BYTEWISE = 1n << 4n;
const CAP_PARAM_ENCODE_C_CAST = 1n << 17n;
/** A parameter no ArduPilot has: the FC stays silent about it. */
const NO_SUCH_PARAM = 'AIM_NO_SUCH_PRM';

/** Settable mapping parameters: not read-only, and not enables whose change needs a reboot. */
const SETTABLE = MOUNT_PARAMS.filter((p) => !p.readOnly && !p.rebootRequired);

async function open(t: Teardown, link: string, opts: FcLinkOptions = {}): Promise<FcLink> {
  const l = await openFcLink(link, { reconnect: { minMs: 100, maxMs: 500 }, ...opts });
  t.teardown(() => l.close());
  await l.waitForVehicle({ timeoutMs: 15_000 });
  return l;
}

/** A value inside the parameter's range that differs from `current` (so the set is a real change). */
function otherValue(name: string, current: number): number {
  const s = paramSpec(name);
  const lo = s?.min ?? current - 1;
  const hi = s?.max ?? current + 1;
  const isInt = s !== undefined && s.type !== 'REAL32';
  const step = isInt ? 1 : (hi - lo) / 8 || 0.01;
  const up = current + step <= hi ? current + step : current - step;
  return isInt ? Math.round(up) : Math.fround(up);
}

for (const spec of fcTargets()) {
  t.test(spec.name, async (t) => {
    if ((spec.kind === 'pty' || spec.kind === 'sitl-uart') && !requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'socat')) return;
    if (isSitlKind(spec.kind) && !requireSitl(t)) return;
    const target = await startTarget(t, spec, sitl);
    // SIM-ONLY cases need fc-sim's controls; on a real FC they are skipped, saying why.
    const simTest = (name: string, why: string, fn: (t: Test, sim: SimControl) => Promise<void>) => {
      const sim = target.sim;
      if (sim === undefined) t.test(`SIM-ONLY: ${name}`, { skip: `needs fc-sim (${why}); ${target.name} is a real FC` }, async () => undefined);
      else t.test(`SIM-ONLY: ${name}`, (tt) => fn(tt, sim));
    };
    const link = await open(t, target.link);

    // Every mapping parameter as we found it; the last case puts them back.
    const original = await link.params.getMany(MOUNT_PARAMS.map((p) => p.name));

    t.test('heartbeat and identity', async (t) => {
      const v = link.vehicle;
      t.equal(v?.autopilot, 3, 'MAV_AUTOPILOT_ARDUPILOTMEGA');
      t.equal(v?.componentId, 1, 'the autopilot component');
      t.ok(v !== undefined && v.systemId >= 1 && v.systemId <= 255);
      const s = link.status();
      t.equal(s.state, 'up');
      t.ok(s.heartbeatAgeMs !== null && s.heartbeatAgeMs < 3000, 'a fresh FC heartbeat');
      t.ok(s.framesIn > 0 && s.framesOut > 0, 'frames both ways');
      if (target.sim !== undefined) t.equal(s.crcErrors, 0, 'a clean link');
      else t.comment(`CRC errors so far: ${s.crcErrors} (a radio link may have some)`);
      await nextEvent(link, 'heartbeat', { timeoutMs: 3000 });
      t.pass('heartbeats keep coming');
    });

    t.test('timeout path: an unknown parameter gets silence', async (t) => {
      const opts = { timeoutMs: 300, retries: 2 };
      t.equal(await link.params.get(NO_SUCH_PARAM, opts), undefined);
      const r = await link.params.setMany([{ name: NO_SUCH_PARAM, value: 1 }, { name: 'mnt1_pitch_min', value: -10 }], opts);
      t.match(r[0], { name: NO_SUCH_PARAM, result: 'unknown', got: null });
      t.match(r[1], { result: 'unknown' }, 'names are case-sensitive: lower-case is silence too');
    });

    simTest('sets under 10% frame loss and 1% byte corruption', 'impairments', async (t, sim) => {
      const { link: lossyLink, sim: lossySim } = await sim.impaired(t, { loss: 0.1, corrupt: 0.01 });
      // Heartbeats are lost too: allow more silence before calling the link down.
      const lossy = await open(t, lossyLink, { heartbeatTimeoutMs: 15_000, params: { timeoutMs: 250, retries: 12 } });
      const list: ParamSetItem[] = SETTABLE.map((p) => ({ name: p.name, value: otherValue(p.name, p.default), type: p.type }));
      const results = await lossy.params.setMany(list, { force: true });
      t.same(results.filter((r) => r.result !== 'ok').map((r) => `${r.name}: ${r.result}`), [], 'every parameter verified');
      const s = lossy.status();
      t.ok(s.crcErrors + s.seqGaps > 0, `the link really was impaired (crc ${s.crcErrors}, gaps ${s.seqGaps})`);
      const held = list.filter((p) => lossySim.getParam(p.name) !== Math.fround(p.value)).map((p) => `${p.name}=${lossySim.getParam(p.name)}`);
      t.same(held, [], 'the simulated FC holds every value');
    });

    t.test('capability and encoding', async (t) => {
      const info = link.autopilot ?? (await link.requestAutopilotVersion());
      t.ok(info !== undefined, 'AUTOPILOT_VERSION answered');
      if (info !== undefined) {
        t.equal(info.capabilities & CAP_PARAM_ENCODE_BYTEWISE, 0n, 'not bytewise');
        if (spec.kind !== 'external') t.equal(info.capabilities, 0xfbefn, 'ArduCopter 4.7 capabilities, the same on fc-sim and SITL');
        t.comment(`capabilities 0x${info.capabilities.toString(16)} (C_CAST bit ${(info.capabilities & CAP_PARAM_ENCODE_C_CAST) !== 0n}), firmware ${info.flightSwVersion}`);
      }
      t.equal(link.encoding, 'c-cast', 'ArduPilot: C-cast by autopilot type');
    });

    t.test('get/set/verify every parameter the mapping uses', async (t) => {
      const names = MOUNT_PARAMS.map((p) => p.name);
      const before = await link.params.getMany(names);
      t.same(names.filter((n) => before.get(n) === undefined), [], 'every mapping parameter is readable by name');
      const list = SETTABLE.map((p) => ({ name: p.name, value: otherValue(p.name, before.get(p.name)?.value ?? p.default), type: p.type }));
      const results = await link.params.setMany(list);
      t.same(results.filter((r) => r.result !== 'ok').map((r) => `${r.name}: ${r.result} (${r.reason ?? ''})`), [], 'all set and verified');
      const after = await link.params.getMany(list.map((p) => p.name));
      t.same(list.filter((p) => after.get(p.name)?.value !== Math.fround(p.value)).map((p) => p.name), [], 'reads agree');
      const again = await link.params.setMany(list);
      t.same([...new Set(again.map((r) => r.result))], ['unchanged'], 'a second push changes nothing');
      // Enables are only re-sent with their current value: the FC must not change mount type under us.
      const type = before.get('MNT1_TYPE');
      if (type !== undefined) {
        const [r] = await link.params.setMany([{ name: 'MNT1_TYPE', value: type.value, type: 'INT8' }], { force: true });
        t.match(r, { result: 'ok', rebootRequired: true });
      }
    });

    t.test('int and float parameters: rounding, range, vector parameter', async (t) => {
      const r = await link.params.setMany([
        { name: 'MNT1_DEFLT_MODE', value: 2.7, type: 'INT8' },
        { name: 'MNT1_RC_RATE', value: 40000, type: 'INT16' },
        { name: 'MNT1_LEAD_PTCH', value: 0.1, type: 'REAL32' },
      ]);
      t.match(r[0], { result: 'ok', want: 2, got: 2 }, 'INT8 2.7 is stored (C-cast) and verified as 2');
      t.match(r[1], { result: 'type-error', attempts: 0 }, 'INT16 40000 never goes on the wire (ArduPilot would saturate it)');
      t.match(r[2], { result: 'ok', got: Math.fround(0.1) }, 'REAL32 compared as float32');
      const v = await link.params.setMany(
        [
          { name: 'MNT1_NEUTRAL_X', value: 1.5 },
          { name: 'MNT1_NEUTRAL_Y', value: -2.5 },
          { name: 'MNT1_NEUTRAL_Z', value: 3.5 },
        ],
        { force: true },
      );
      t.same(v.map((x) => [x.result, x.got]), [['ok', 1.5], ['ok', -2.5], ['ok', 3.5]], 'X echoes X, Y, Z; siblings are not taken for answers');
    });

    t.test('raw frames: fractional and out-of-range floats, a vector, a read-only parameter, answered as ArduPilot SITL answered', async (t) => {
      // The agent rounds before sending, so this asks the FC itself: raw PARAM_SETs from a second client,
      // expected values from protocol/param-cast-facts.ts (measured on SITL), not from any model.
      const link2 = target.link2;
      if (link2 === undefined) return void t.plan(0, `skip: ${target.name} has one port; the raw client needs a second`);
      const gcs = await TestGcs.connect(link2);
      t.teardown(() => gcs.close());
      const probes = Object.entries(CAST_PROBE_PARAMS) as [keyof typeof CAST_PROBE_PARAMS, string][];
      const before = await link.params.getMany(probes.map(([, name]) => name));
      const send = async (name: string, value: number, type: keyof typeof MAV_PARAM_TYPE) => {
        const since = gcs.mark();
        gcs.send(TestGcs.paramSet(name, value, MAV_PARAM_TYPE[type]));
        return (await gcs.wait(common.ParamValue, (m) => m.paramId === name, { since, timeoutMs: 3000 })).paramValue;
      };
      const wrong: string[] = [];
      for (const c of MEASURED_CASTS) {
        const got = await send(CAST_PROBE_PARAMS[c.type as keyof typeof CAST_PROBE_PARAMS], c.sent, c.type);
        if (got !== c.stored) wrong.push(`${c.type} ${c.sent} → ${got}, measured ${c.stored}`);
      }
      t.same(wrong, [], `all ${MEASURED_CASTS.length} measured casts reproduced`);
      // Put the probe parameters back (later cases rely on the pitch limits and default mode).
      for (const [type, name] of probes) {
        const b = before.get(name);
        if (b !== undefined) t.equal(await send(name, b.value, type), b.value, `${name} restored`);
      }

      // The same raw answers for a vector parameter and a read-only one.
      const neutral = await link.params.getMany(['MNT1_NEUTRAL_X', 'MNT1_NEUTRAL_Y', 'MNT1_NEUTRAL_Z']);
      let since = gcs.mark();
      gcs.send(TestGcs.paramSet('MNT1_NEUTRAL_X', 1.5, MAV_PARAM_TYPE.REAL32));
      await gcs.wait(common.ParamValue, (m) => m.paramId === 'MNT1_NEUTRAL_Z', { since, timeoutMs: 3000 });
      const echoed = gcs.collect(common.ParamValue, since).map((m) => `${m.paramId}=${m.paramValue}`);
      t.same(echoed, ['MNT1_NEUTRAL_X=1.5', `MNT1_NEUTRAL_Y=${neutral.get('MNT1_NEUTRAL_Y')?.value}`, `MNT1_NEUTRAL_Z=${neutral.get('MNT1_NEUTRAL_Z')?.value}`], 'setting X echoes X, Y, Z');
      t.equal(await send('MNT1_NEUTRAL_X', neutral.get('MNT1_NEUTRAL_X')?.value ?? 0, 'REAL32'), neutral.get('MNT1_NEUTRAL_X')?.value ?? 0, 'MNT1_NEUTRAL_X restored');
      since = gcs.mark();
      gcs.send(TestGcs.paramSet('MNT1_DEVID', 7, MAV_PARAM_TYPE.INT32));
      const denied = await gcs.wait(common.StatusText, (m) => m.text.startsWith('Param write denied'), { since, timeoutMs: 3000 });
      const old = await gcs.wait(common.ParamValue, (m) => m.paramId === 'MNT1_DEVID', { since, timeoutMs: 3000 });
      t.same([denied.severity, denied.text, old.paramValue, old.paramType], [4, 'Param write denied (MNT1_DEVID)', 0, MAV_PARAM_TYPE.INT32], 'MNT1_DEVID: denied, with its old value (0)');
    });

    t.test('read-only parameter: denied', async (t) => {
      const before = await link.params.get('MNT1_DEVID');
      const [r] = await link.params.setMany([{ name: 'MNT1_DEVID', value: (before?.value ?? 0) + 1 }]);
      t.match(r, { result: 'denied', got: before?.value ?? null });
    });

    simTest('a stale echo of the old value is not success', 'link latency', async (t, sim) => {
      // 400 ms each way and instant reads: a read sent now is answered (old value) at +400 ms and arrives at
      // +800 ms; a set sent at +600 ms is stored at +1000 ms. So the old value arrives after the set was sent
      // (the 600 ms is when to act, not a wait for something: ±200 ms of timer slack still holds).
      const { link: slowLink } = await sim.impaired(t, { latencyMs: 400, readLatencyMs: 0 });
      const slow = await open(t, slowLink, { params: { timeoutMs: 2500 } });
      const start = await slow.params.get('MNT1_PITCH_MAX');
      const old = start?.value ?? 20;
      const want = old === 10 ? 11 : 10;
      const seen: { value: number; at: number }[] = [];
      const off = slow.params.listen('MNT1_PITCH_MAX', (e) => seen.push({ value: e.value, at: Date.now() }));
      t.teardown(off);
      const read = slow.params.get('MNT1_PITCH_MAX', { retries: 1 });
      await new Promise((r) => setTimeout(r, 600));
      const sentAt = Date.now();
      const [r] = await slow.params.setMany([{ name: 'MNT1_PITCH_MAX', value: want }], { force: true });
      await read;
      t.match(r, { result: 'ok', got: want, attempts: 1 });
      const stale = seen.find((s) => s.value === old && s.at >= sentAt);
      t.ok(stale !== undefined, 'the old value did arrive after the set was sent, and was passed over');
    });

    t.test('gimbal: point, ack, attitude; ROI', async (t) => {
      const p = await link.gimbal.point({ pitchDeg: -30, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 });
      t.match(p, { result: 'accepted', via: 'gimbal-manager' });
      t.equal(await link.gimbal.waitForAttitude({ pitchDeg: -30, yawDeg: 0 }, { toleranceDeg: 2, timeoutMs: 3000 }), true, 'GIMBAL_DEVICE_ATTITUDE_STATUS reaches the target');
      const earth = await link.gimbal.point({ pitchDeg: -10, yawDeg: 0, yawFrame: 'earth', gimbalId: 0 });
      t.match(earth, { result: 'accepted' });
      t.match(await link.gimbal.point({ pitchDeg: -10, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 2 }), { result: 'failed' }, 'absent gimbal id');
      t.match(await link.gimbal.roi({ latDeg: -35.3632621, lonDeg: 149.1652374, altM: 20 }), { result: 'accepted' });
      t.match(await link.gimbal.clearRoi(), { result: 'accepted' });
    });

    simTest('link loss and recovery', 'kills and restarts fc-sim, removes the pty', async (t, sim) => {
      const downs: string[] = [];
      const onDown = (r: string) => downs.push(r);
      link.on('down', onDown);
      link.on('error', () => undefined); // reconnect failures are expected here
      t.teardown(() => link.off('down', onDown));

      await sim.kill();
      await waitFor('link down after fc-sim was killed', () => link.status().state === 'down', { timeoutMs: 8000 });
      await sim.restart();
      await link.waitForVehicle({ timeoutMs: 15_000 });
      const [r1] = await link.params.setMany([{ name: 'MNT1_RC_RATE', value: 21 }], { force: true });
      t.match(r1, { result: 'ok' }, 'parameters work again after fc-sim came back');

      if (sim.removePty && sim.recreatePty) {
        await sim.removePty();
        await waitFor('link down after the pty disappeared', () => link.status().state === 'down', { timeoutMs: 8000 });
        await sim.recreatePty();
        await link.waitForVehicle({ timeoutMs: 15_000 });
        const [r2] = await link.params.setMany([{ name: 'MNT1_RC_RATE', value: 22 }], { force: true });
        t.match(r2, { result: 'ok' }, 'and after the serial device came back');
      }
      t.ok(downs.length >= 1, `saw the outages: ${downs.join('; ')}`);
      t.ok(link.status().connects >= 2, 'the transport was reopened');
    });

    t.test('restore the parameters as we found them', async (t) => {
      const restore = SETTABLE.flatMap((p) => {
        const o = original.get(p.name);
        return o === undefined ? [] : [{ name: p.name, value: o.value, type: p.type }];
      });
      const r = await link.params.setMany(restore);
      t.same(r.filter((x) => x.result !== 'ok' && x.result !== 'unchanged').map((x) => `${x.name}: ${x.result}`), []);
    });
  });
}

