import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFcLink } from '../agent/fc/index.js';
import { configToFcParams, type Ack, type AimConfig } from '../protocol/index.js';
import { startFcSim } from '../sim/index.js';
import { spawnCli, type Teardown } from '../test/support/index.js';
import { requireSitl, startSitl } from '../test/support/sitl.js';

// Nothing is written before everything is known to fit: a config whose value cannot fit the FC's type
// for it (GPS_HDOP_GOOD is INT16 on ArduCopter 4.7; ArduPilot would store 40000 as 32767 without a
// word) is rejected with its path before the first PARAM_SET, on fc-sim and on ArduPilot SITL.

const config: AimConfig = {
  kind: 'aim-config',
  schemaVersion: 1,
  version: 7,
  id: 'too-big',
  issuedAt: '2026-11-26T13:00:00Z',
  mount: { pitch: { minDeg: -77, maxDeg: 11 }, yaw: { minDeg: -150, maxDeg: 150 }, rcRateDegS: 33 },
  params: { PILOT_THR_FILT: 3.5, GPS_HDOP_GOOD: 40000 },
};

async function applyTooBig(t: Teardown, link: string) {
  const dir = mkdtempSync(join(tmpdir(), 'aim-fit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify(config));
  const p = spawnCli(t, 'aim-agent', ['apply', file, '--fc', link, '--state-dir', join(dir, 'state'), '--allow-unsigned']);
  const code = await p.exited;
  return { code, ack: JSON.parse(p.stdout()) as Ack, stderr: p.stderr() };
}

function expectRejected(t: Test, r: Awaited<ReturnType<typeof applyTooBig>>): void {
  t.equal(r.code, 1);
  t.match(r.ack, { status: 'rejected', code: 'AIM_ERR_INVALID', errors: [{ path: 'params.GPS_HDOP_GOOD', message: '40000 is outside INT16 (-32768..32767)' }] });
  t.match(r.stderr, /^params\.GPS_HDOP_GOOD: 40000 is outside INT16 \(-32768\.\.32767\)$/m, 'path: message on stderr');
}

t.test('fc-sim: rejected with the path, and not one PARAM_SET sent', async (t) => {
  const fc = await startFcSim({ link: 'tcp:127.0.0.1:0' });
  t.teardown(() => fc.stop());
  const before = configToFcParams(config).map((p) => [p.name, fc.getParam(p.name)]);
  const r = await applyTooBig(t, fc.link);
  expectRejected(t, r);
  t.equal(fc.stats.paramSets, 0, 'no PARAM_SET reached the FC');
  t.same(configToFcParams(config).map((p) => [p.name, fc.getParam(p.name)]), before, 'every value as it was');
});

t.test('ArduPilot SITL: rejected with the path; read back on link2, every value as it was', async (t) => {
  if (!requireSitl(t)) return;
  const sitl = await startSitl(t);
  const names = configToFcParams(config).map((p) => p.name);
  const readBack = async () => {
    const l = await openFcLink(sitl.link2);
    try {
      await l.waitForVehicle({ timeoutMs: 15_000 });
      return [...(await l.params.getMany(names))].map(([n, v]) => [n, v?.value]);
    } finally {
      await l.close();
    }
  };
  const before = await readBack();
  t.ok(before.every(([, v]) => v !== undefined), 'every parameter exists on ArduCopter 4.7');
  const r = await applyTooBig(t, sitl.link);
  expectRejected(t, r);
  t.same(await readBack(), before, 'nothing was written: no saturated 32767, no half-applied config');
});
