import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configToFcParams, type Ack } from '../protocol/index.js';
import { startFcSim } from '../sim/index.js';
import { launcherCommand, requireBuild, requireTool, ROOT, spawnTracked, ptyPair, waitFor, type Teardown } from '../test/support/index.js';
import { harness } from './test-helpers/harness.js';

// The agent exactly as the installed launcher runs it: dist/bundle (scripts/bundle/bundle.ts) with the
// launcher's node flags. The other process tests run the unbundled dist/ so coverage maps to the sources;
// these prove the bundle itself: every command loads, the service works end to end, serial works.

const launcher = launcherCommand();

const agentCmd = (t: Teardown, args: string[]) => spawnTracked(t, process.execPath, [...launcher.nodeFlags, launcher.script, ...args], { cwd: ROOT });

t.test('the bundle carries only the agent’s MAVLink messages: no dialect files, no code generator', async (t) => {
  if (!requireBuild(t, launcher.script)) return;
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/bundle-meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
  const inputs = Object.keys(meta.inputs);
  t.ok(inputs.some((f) => f.endsWith('agent/fc/dialect.ts')), 'agent/fc/dialect.ts is in');
  t.ok(inputs.some((f) => f.includes('node_modules/node-mavlink/')), 'node-mavlink is in');
  t.same(inputs.filter((f) => /mavlink-mappings\/dist\/(index|lib\/(common|minimal|standard|ardupilotmega|development))\.js$|xml2js|generator\/generators/.test(f)), []);
  t.notOk(inputs.some((f) => f.includes('node_modules/serialport/')), 'serialport stays in node_modules (native binding)');
});

t.test('bundled `run`: online, a signed config applied and acked, FC matches, SIGTERM exits 0 with offline', async (t) => {
  if (!requireBuild(t, launcher.script)) return;
  const h = await harness(t, { startAgent: false });
  const agent = agentCmd(t, ['run', '--settings', h.settingsFile]);
  await waitFor('bundled agent online', () => h.statuses.some((s) => s.state === 'online'), { timeoutMs: 20_000 });
  const cfg = h.config(4);
  await h.publish(h.sign(cfg));
  const ack = await h.waitAck((a) => a.version === 4, 'applied ack from the bundled agent', 20_000);
  t.equal(ack.status, 'applied', JSON.stringify(ack));
  for (const p of configToFcParams(cfg)) t.equal(Math.fround(h.fc.getParam(p.name) ?? NaN), Math.fround(p.value), `${p.name} on the FC`);
  const n = h.statuses.length;
  agent.kill('SIGTERM');
  t.equal(await agent.exited, 0, agent.stderr());
  t.ok(h.statuses.slice(n).some((s) => s.state === 'offline'), 'offline published on the way out');
});

t.test('bundled `apply` over a real serial pty; `validate` and `doctor` load and answer', async (t) => {
  if (!requireBuild(t, launcher.script) || !requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'socat')) return;
  const h = await harness(t, { startAgent: false });
  const pty = await ptyPair(t);
  const fc = await startFcSim({ link: `serial:${pty.a}:115200` });
  t.teardown(() => fc.stop());
  const cfg = h.config(7);
  const file = join(h.dir, 'c7.jws');
  writeFileSync(file, h.sign(cfg));

  const check = agentCmd(t, ['validate', file, '--trust', h.keys.pubFile]);
  t.equal(await check.exited, 0, check.stderr());

  const apply = agentCmd(t, ['apply', file, '--fc', `serial:${pty.b}:115200`, '--state-dir', h.stateDir, '--trust', h.keys.pubFile]);
  t.equal(await apply.exited, 0, apply.stderr());
  const ack = JSON.parse(apply.stdout()) as Ack;
  t.equal(ack.status, 'applied');
  for (const p of configToFcParams(cfg)) t.equal(Math.fround(fc.getParam(p.name) ?? NaN), Math.fround(p.value), `${p.name} over serial`);

  const settings = join(h.dir, 'serial-agent.json');
  writeFileSync(settings, JSON.stringify({ ...h.settings, fc: { link: `serial:${pty.b}:115200` } }));
  const doctor = agentCmd(t, ['doctor', '--settings', settings, '--timeout', '3']);
  t.equal(await doctor.exited, 0, doctor.stdout() + doctor.stderr());
  t.match(doctor.stdout(), /ALL CLEAR\n$/);
});
