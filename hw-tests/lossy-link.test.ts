import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ack, AimConfig } from '../protocol/index.js';
import { startFcSim } from '../sim/index.js';
import { ptyPair, requireTool, ROOT, spawnCli } from '../test/support/index.js';

// A lossy serial link, MAVSDK's system-test habit: `aim-agent apply` of protocol/examples/full.json,
// again and again, through fc-sim at 57600 baud (paced) with 10 % frame loss and byte corruption. Every
// apply must end `applied`: lost reads and echoes are asked again, a corrupted header never holds the
// frames behind it, and silence is never taken for a missing parameter.

const BAUD = 57600;
const full = JSON.parse(readFileSync(`${ROOT}protocol/examples/full.json`, 'utf8')) as AimConfig;

/** full.json, with the mount values flipped on odd versions so every apply really sets parameters. */
function variant(version: number): AimConfig {
  if (version % 2 === 0) return { ...full, version };
  const m = full.mount!;
  return {
    ...full,
    version,
    mount: { ...m, pitch: { minDeg: -85, maxDeg: 15 }, yaw: { minDeg: -170, maxDeg: 170 }, roll: { minDeg: -25, maxDeg: 25 }, rcRateDegS: 45 },
    params: { MNT1_LEAD_PTCH: 0.1, MNT1_LEAD_RLL: 0.02 },
  };
}

async function run(t: Test, opts: { corrupt: number; applies: number }): Promise<void> {
  if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'socat')) return;
  const dir = mkdtempSync(join(tmpdir(), 'aim-lossy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pty = await ptyPair(t);
  const fc = await startFcSim({ link: `serial:${pty.a}:${BAUD}`, baudLimit: true, loss: 0.1, corrupt: opts.corrupt });
  t.teardown(() => fc.stop());
  // Per-attempt waits as a field config for a radio link would set them; the defaults are for a clean link.
  writeFileSync(join(dir, 'agent.json'), JSON.stringify({ droneId: 'lossy', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: `serial:${pty.b}:${BAUD}`, paramTimeoutMs: 300 }, security: { requireSignature: false, trustedKeys: [] }, stateDir: join(dir, 'state') }));
  const results: string[] = [];
  for (let v = 1; v <= opts.applies; v++) {
    const file = join(dir, `v${v}.json`);
    writeFileSync(file, JSON.stringify(variant(v)));
    const p = spawnCli(t, 'aim-agent', ['apply', file, '--settings', join(dir, 'agent.json'), '--allow-unsigned']);
    await p.exited;
    const ack = JSON.parse(p.stdout() || '{}') as Partial<Ack>;
    const bad = (ack.params ?? []).filter((x) => x.result !== 'ok' && x.result !== 'unchanged');
    results.push(ack.status === 'applied' ? 'applied' : `v${v} ${ack.status} ${ack.code ?? ''} ${ack.reason ?? p.stderr()} ${JSON.stringify(bad)}`);
  }
  const s = fc.stats;
  t.ok(s.framesLost > 0 && s.crcErrors > 0, `the link really was impaired (${s.framesLost} frames lost, ${s.crcErrors} CRC errors at fc-sim)`);
  t.same(results.filter((r) => r !== 'applied'), [], `${opts.applies} applies, every one applied`);
}

t.test('10 % frame loss + 0.1 % byte corruption at 57600: 20 applies of full.json, all applied', (t) => run(t, { corrupt: 0.001, applies: 20 }));

t.test('10 % frame loss + 1 % byte corruption at 57600: no false link-down, 5 applies all applied', (t) => run(t, { corrupt: 0.01, applies: 5 }));
