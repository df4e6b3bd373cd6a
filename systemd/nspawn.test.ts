import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool, requireBuild, ROOT, waitFor } from '../test/support/index.js';
import { bootContainer } from './nspawn/container.js';

// The .deb under a real systemd: Debian 12 booted with systemd-nspawn, the package installed with
// dpkg, the service driven with systemctl and read back with journalctl. How to run it by hand:
// README "Packaging". The rootfs is built once per machine (packaging/test-rootfs.sh, cached outside
// the checkout); each boot starts from it afresh (an overlay on tmpfs) and takes about a second.
//
// Node: Debian 12's nodejs is 18, so the host's node (>= 20) is bind-mounted at /usr/bin/node and
// a stand-in `nodejs` package (version 20, no files) satisfies the .deb's `Depends: nodejs (>= 20)`.
// fc-sim and aimctl are not in the drone package: they run inside the container from this checkout
// (bind-mounted read-only at its own path), fc-sim as a transient unit on tcp:127.0.0.1:5760.

const DRONE = 'drone-07';
const SETTINGS = '/etc/aim-agent/agent.json';
const KEY_PUB = '/etc/aim-agent/keys/ground.pub.pem';
const KEY_PRIV = '/root/ground.key.pem';
const BROKER = 'mqtt://127.0.0.1:1883';
const FC_LINK = 'tcp:127.0.0.1:5760';
/** apply.shutdownTimeoutS in the test settings: the agent's own bound for finishing or rolling back. */
const SHUTDOWN_S = 3;
/** fc-sim's one-way delay for the slow FC: a parameter round trip takes 1 s. */
const SLOW_FC_MS = 500;
/**
 * A stop must end inside this: the agent's own bound for an apply in flight, then a rollback or a
 * goodbye to the broker. TimeoutStopSec is 30 s; the issue saw 22.7 s, and a timeout with a frozen broker.
 */
const STOP_BUDGET_MS = (SHUTDOWN_S + 5) * 1000;
/** While activating there is nothing to finish. */
const STOP_ACTIVATING_BUDGET_MS = 3000;
const MAX_EXPOSURE = 2.0;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (systemd-nspawn, debootstrap, nsenter): run as root, see README "Packaging"';
  if (!hasTool('systemd-nspawn')) return 'systemd-nspawn not found: apt-get install -y systemd-container';
  return undefined;
}

const reason = skipReason();
if (reason) {
  t.plan(0, `skipped: ${reason}`);
} else {
  t.setTimeout(15 * 60_000);
  t.test('the .deb under a real systemd (Debian 12, systemd-nspawn)', async (t) => main(t));
}

const settings = (extra: Record<string, unknown> = {}) =>
  `${JSON.stringify(
    {
      droneId: DRONE,
      broker: { url: BROKER, connectTimeoutMs: 2000 },
      fc: { link: FC_LINK, paramTimeoutMs: 5000, paramRetries: 1 },
      security: { requireSignature: true, trustedKeys: [KEY_PUB] },
      apply: { shutdownTimeoutS: SHUTDOWN_S },
      logLevel: 'info',
      ...extra,
    },
    null,
    2,
  )}\n`;

/** Builds the host architecture's .deb twice: this version and one just below it (the upgrade's N-1). */
function buildDebs(t: Test, dir: string): { arch: string; prev: string; cur: string; version: string } {
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const build = (v: string) => {
    const r = spawnSync('bash', [join(ROOT, 'packaging/build-deb.sh'), '--arch', arch, '--version', v, '--out', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build-deb.sh failed: ${r.stderr}`);
    return `${dir}/aim-agent_${v}_${arch}.deb`;
  };
  const prev = build(`${version}~prev1`);
  const cur = build(version);
  // The stand-in for Debian's nodejs: metadata only; the binary is the host's, bind-mounted.
  const stub = join(dir, 'nodejs-stub');
  mkdirSync(join(stub, 'DEBIAN'), { recursive: true });
  writeFileSync(join(stub, 'DEBIAN/control'), `Package: nodejs\nVersion: ${process.versions.node}-aimtest\nArchitecture: all\nMaintainer: aim-agent tests <aim-agent@example.com>\nDescription: stand-in for Node.js >= 20 (the host's node is bind-mounted at /usr/bin/node)\n`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-b', stub, join(dir, 'nodejs-stub.deb')], { stdio: 'ignore' });
  t.comment(`built ${prev} and ${cur}`);
  return { arch, prev, cur, version };
}

interface JournalEntry {
  MESSAGE?: string;
  PRIORITY?: string;
  _PID?: string;
  __CURSOR: string;
}

async function main(t: Test): Promise<void> {
  if (!requireBuild(t, join(ROOT, 'dist/bundle/aim-agent.js'))) return;
  const r = spawnSync('bash', [join(ROOT, 'packaging/test-rootfs.sh')], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.status !== 0) {
    t.fail(`packaging/test-rootfs.sh failed (needs debootstrap and Debian's mirror):\n${r.stderr}`);
    return;
  }
  const rootfs = r.stdout.trim().split('\n').at(-1)!;
  const debs = mkdtempSync(join(tmpdir(), 'aim-debs-'));
  t.teardown(() => rmSync(debs, { recursive: true, force: true }));
  const { prev, cur, version } = buildDebs(t, debs);

  const root = realpathSync(ROOT);
  const bindRo: [string, string][] = [[process.execPath, '/usr/bin/node'], [debs, '/aim-debs'], [root, root]];
  // node_modules may be a symlink to another checkout's; bind that one at its own path too.
  const modules = realpathSync(join(ROOT, 'node_modules'));
  if (!modules.startsWith(`${root}/`)) bindRo.push([modules, modules]);
  let consoleText = '';
  const t0 = performance.now();
  const c = await bootContainer({ rootfs, bindRo, log: (l) => void (consoleText += l) });
  t.teardown(() => c.stop());
  t.comment(`container booted in ${Math.round(performance.now() - t0)} ms`);

  const show = async (...props: string[]) => {
    const out = await c.run(['systemctl', 'show', '--timestamp=us+utc', 'aim-agent', ...props.flatMap((p) => ['-p', p])]);
    return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) as Record<string, string>;
  };
  const cursor = async () => (JSON.parse((await c.run(['journalctl', '-n', '1', '-o', 'json', '--no-pager'])).trim().split('\n').at(-1)!) as JournalEntry).__CURSOR;
  const journal = async (after: string, ...args: string[]) =>
    (await c.run(['journalctl', '--no-pager', '-o', 'json', `--after-cursor=${after}`, ...args]))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as JournalEntry);
  const active = (want = 'active') => waitFor(`aim-agent ${want}`, async () => (await show('ActiveState')).ActiveState === want, { timeoutMs: 30_000, intervalMs: 100 });
  const fcSim = async (...extra: string[]) => {
    await c.exec(['systemctl', 'stop', 'fc-sim']);
    await c.exec(['systemctl', 'reset-failed', 'fc-sim']);
    await c.run(['systemd-run', '--unit=fc-sim', '--quiet', '/usr/bin/node', join(root, 'dist/sim/bin/fc-sim.js'), '--link', FC_LINK, ...extra]);
    await waitFor('fc-sim listening', async () => (await c.exec(['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/5760'])).code === 0, { timeoutMs: 10_000, intervalMs: 100 });
  };
  const push = (version: number, timeoutS = 15) =>
    c.exec(['/usr/bin/node', join(root, 'dist/ground/bin/aimctl.js'), 'push', join(root, 'protocol/examples/full.json'), '--drone', DRONE,
      '--broker', BROKER, '--key', KEY_PRIV, '--version', String(version), '--timeout', String(timeoutS)], { timeoutMs: (timeoutS + 15) * 1000 });
  /** Time `systemctl stop`, then what systemd made of it. */
  const timedStop = async () => {
    const stop = await c.exec(['systemctl', 'stop', 'aim-agent'], { timeoutMs: 60_000 });
    const s = await show('Result', 'ActiveState');
    return { ms: stop.ms, code: stop.code, Result: s.Result, ActiveState: s.ActiveState };
  };

  // --- Install N-1 with settings that do not pass the agent's check: installed, enabled, not started.
  const keys = generateKeyPairSync('ed25519');
  await c.run(['dpkg', '-i', '/aim-debs/nodejs-stub.deb']);
  await c.run(['install', '-d', '-m', '0750', '/etc/aim-agent', '/etc/aim-agent/keys']);
  c.write(SETTINGS, '{ "droneId": "drone 07" }\n');
  c.write(KEY_PUB, keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  c.write(KEY_PRIV, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const first = await c.exec(['dpkg', '-i', '--force-confold', `/aim-debs/${prev.split('/').at(-1)}`]);
  await t.test('install with invalid settings: user, directories, unit enabled; not started, and says why', async (t) => {
    t.equal(first.code, 0, `dpkg -i exits 0\n${first.stdout}${first.stderr}`);
    t.match(first.stderr, /not started: \/etc\/aim-agent\/agent\.json needs editing/, 'postinst says why it did not start the service');
    t.match(first.stderr, /droneId/, 'with the check\'s `path: message`');
    t.match(await c.run(['id', 'aim-agent']), /groups=.*\(dialout\)/, 'aim-agent exists and is in dialout');
    t.equal((await c.exec(['systemctl', 'is-enabled', 'aim-agent'])).stdout.trim(), 'enabled');
    t.equal((await show('ActiveState')).ActiveState, 'inactive');
    t.equal((await c.run(['stat', '-c', '%a %U:%G', '/etc/aim-agent', '/var/lib/aim-agent'])).trim(), '750 root:aim-agent\n750 aim-agent:aim-agent');
    t.equal((await c.run(['/usr/bin/aim-agent', '--version'])).trim(), version, 'the installed CLI runs');
  });

  // Test-only timings, in a drop-in as an operator would: a watchdog that fires in seconds, quick
  // restarts, no start limit (this test starts the unit many times; the shipped limits are in unit.test.ts).
  await c.run(['install', '-d', '/etc/systemd/system/aim-agent.service.d']);
  c.write('/etc/systemd/system/aim-agent.service.d/test.conf', '[Unit]\nStartLimitIntervalSec=0\n[Service]\nWatchdogSec=4s\nRestartSec=1s\n');
  await c.run(['systemctl', 'daemon-reload']);
  await c.run(['chgrp', 'aim-agent', KEY_PUB]);
  await c.run(['chmod', '0640', KEY_PUB]);
  c.write(SETTINGS, settings());
  await fcSim();

  await t.test('active only after READY=1, with a STATUS line', async (t) => {
    const before = await cursor();
    const start = await c.exec(['systemctl', 'start', 'aim-agent']);
    t.equal(start.code, 0, `systemctl start ${start.stderr}`);
    const s = await show('ActiveState', 'ActiveEnterTimestamp', 'ExecMainStartTimestamp', 'StatusText', 'MainPID', 'Type', 'NRestarts');
    t.equal(s.ActiveState, 'active');
    t.equal(s.Type, 'notify');
    const readyLine = (await journal(before, '-u', 'aim-agent')).map((e) => parseLog(e)).find((l) => l?.msg === 'agent ready');
    t.ok(readyLine, 'the agent logged "agent ready"');
    // The journal's wall clock and the agent's share the host clock: active came after the agent was ready.
    // `Thu 2026-12-03 09:24:03.522123 UTC`
    const activeAt = Date.parse(s.ActiveEnterTimestamp!.replace(/^\w+ (\S+) (\S+) UTC$/, '$1T$2Z'));
    const startedAt = Date.parse(s.ExecMainStartTimestamp!.replace(/^\w+ (\S+) (\S+) UTC$/, '$1T$2Z'));
    const readyAt = Number(readyLine?.time);
    t.ok(startedAt < readyAt && readyAt <= activeAt, `started ${s.ExecMainStartTimestamp}, agent ready ${new Date(readyAt).toISOString()}, active ${s.ActiveEnterTimestamp}`);
    t.match(s.StatusText, /FC and broker up|ready|fc up/, `STATUS: ${s.StatusText}`);
  });

  await t.test('a signed config pushed over Mosquitto is applied, and STATUS says so', async (t) => {
    const r = await push(43);
    t.equal(r.code, 0, `aimctl push exit 0\n${r.stdout}${r.stderr}`);
    t.match(r.stdout, /"status":"applied"/);
    const file = JSON.parse(c.read('/var/lib/aim-agent/aim-params.json')) as { version?: number; config?: { version?: number } };
    t.equal(file.version ?? file.config?.version, 43, 'the aim file holds version 43');
    await waitFor('STATUS names v43', async () => (await show('StatusText')).StatusText!.includes('v43'), { timeoutMs: 10_000, intervalMs: 100 });
  });

  await t.test('reload: good settings apply, bad settings make `systemctl reload` fail and change nothing', async (t) => {
    const { MainPID } = await show('MainPID');
    c.write(SETTINGS, settings({ logLevel: 'debug' }));
    const good = await c.exec(['systemctl', 'reload', 'aim-agent']);
    t.equal(good.code, 0, `good reload exits 0 ${good.stderr}`);
    c.write(SETTINGS, settings({ droneId: 'no spaces allowed' }));
    const bad = await c.exec(['systemctl', 'reload', 'aim-agent']);
    t.not(bad.code, 0, 'bad reload exits non-zero');
    const s = await show('MainPID', 'ActiveState');
    t.same([s.MainPID, s.ActiveState], [MainPID, 'active'], 'same process, still active');
    const log = await c.run(['journalctl', '-u', 'aim-agent', '-n', '30', '-o', 'cat', '--no-pager']);
    t.match(log, /droneId: /, 'the journal says which setting is wrong (`path: message`)');
    c.write(SETTINGS, settings());
    t.equal((await c.exec(['systemctl', 'reload', 'aim-agent'])).code, 0);
  });

  await t.test('systemd-analyze security rates the installed unit at most 2.0', async (t) => {
    const out = (await c.exec(['systemd-analyze', 'security', 'aim-agent', '--no-pager'])).stdout;
    const m = /Overall exposure level for aim-agent\.service: (\d+\.\d+)/.exec(out);
    t.ok(m, 'found the rating');
    t.ok(Number(m?.[1]) <= MAX_EXPOSURE, `exposure ${m?.[1]} <= ${MAX_EXPOSURE}`);
  });

  await t.test('watchdog: a frozen agent (SIGSTOP) is aborted and restarted', async (t) => {
    const { MainPID, NRestarts } = await show('MainPID', 'NRestarts');
    const before = await cursor();
    await c.run(['kill', '-STOP', MainPID!]);
    const s = await waitFor('a new main PID, active', async () => {
      const s = await show('MainPID', 'ActiveState', 'NRestarts');
      return s.MainPID !== MainPID && s.MainPID !== '0' && s.ActiveState === 'active' && s;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    t.equal(Number(s.NRestarts), Number(NRestarts) + 1, 'one restart');
    const said = (await journal(before, '-u', 'aim-agent')).map((e) => e.MESSAGE ?? '').join('\n');
    t.match(said, /[Ww]atchdog timeout/, 'systemd names the watchdog');
  });

  await t.test('kill -9: restarted', async (t) => {
    const { MainPID, NRestarts } = await show('MainPID', 'NRestarts');
    await c.run(['kill', '-KILL', MainPID!]);
    const s = await waitFor('a new main PID, active', async () => {
      const s = await show('MainPID', 'ActiveState', 'NRestarts');
      return s.MainPID !== MainPID && s.MainPID !== '0' && s.ActiveState === 'active' && s;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    t.equal(Number(s.NRestarts), Number(NRestarts) + 1, 'one restart');
  });

  await t.test('journalctl -p warning finds the agent\'s warnings', async (t) => {
    // With the FC gone the agent warns that it cannot open the link.
    const before = await cursor();
    await c.run(['systemctl', 'stop', 'fc-sim']);
    await c.run(['systemctl', 'restart', 'aim-agent']);
    const warnings = await waitFor('a warning from the agent', async () => {
      const w = (await journal(before, '-u', 'aim-agent', '-p', 'warning')).filter((e) => parseLog(e));
      return w.length > 0 && w;
    }, { timeoutMs: 30_000, intervalMs: 250 }).catch(() => []);
    t.ok(warnings.length > 0, 'journalctl -u aim-agent -p warning lists the agent\'s own lines');
    for (const w of warnings) t.ok(Number(w.PRIORITY) <= 4, `priority ${w.PRIORITY}: ${w.MESSAGE?.slice(0, 120)}`);
    const all = (await journal(before, '-u', 'aim-agent')).map((e) => [parseLog(e), e] as const).filter(([l]) => l);
    const info = all.find(([l]) => l!.level === 30);
    t.ok(info && Number(info[1].PRIORITY) === 6, 'info lines stay priority 6');
    t.ok(all.every(([l]) => typeof l!.msg === 'string'), 'each message is still the JSON log line');
  });

  await t.test('stop while activating (FC absent): quick, clean, no "ready" after the stop', async (t) => {
    await c.run(['systemctl', 'stop', 'aim-agent']);
    const before = await cursor();
    await c.run(['systemctl', 'start', '--no-block', 'aim-agent']);
    // Stop once the agent is up and looking for its FC (it has said so), not while node is still
    // loading: that is the moment the issue measured 22.7 s at.
    await waitFor('the agent looking for the FC', async () => (await journal(before, '-u', 'aim-agent')).some((e) => parseLog(e)?.fcLink !== undefined), { timeoutMs: 20_000, intervalMs: 50 });
    const state = (await show('ActiveState')).ActiveState;
    t.comment(`stopping while ${state} (a READY that does not wait for the FC makes this "active")`);
    const stop = await timedStop();
    t.ok(stop.ms <= STOP_ACTIVATING_BUDGET_MS, `stopped in ${Math.round(stop.ms)} ms (budget ${STOP_ACTIVATING_BUDGET_MS} ms)`);
    t.equal(stop.Result, 'success', 'Result=success (not timeout)');
    // The agent's own lines: nothing may claim readiness once it has begun to stop.
    const msgs = (await journal(before, '-u', 'aim-agent')).map((e) => parseLog(e)?.msg).filter((m) => typeof m === 'string');
    const stopping = msgs.findIndex((m) => m === 'stopping' || m === 'stopped');
    t.ok(stopping >= 0, 'the agent logged its stop');
    t.same(msgs.slice(stopping).filter((m) => m === 'agent ready'), [], 'no "agent ready" after "stopping"');
  });

  await t.test('stop while applying to a slow FC: the apply finishes or rolls back inside the budget', async (t) => {
    await fcSim('--latency', String(SLOW_FC_MS));
    await c.run(['systemctl', 'start', 'aim-agent']);
    await active();
    const pushing = push(44, 40);
    await waitFor('the agent applying', async () => /applying/.test((await show('StatusText')).StatusText ?? ''), { timeoutMs: 20_000, intervalMs: 50 });
    const stop = await timedStop();
    t.ok(stop.ms <= STOP_BUDGET_MS, `stopped in ${Math.round(stop.ms)} ms (budget ${STOP_BUDGET_MS} ms)`);
    t.equal(stop.Result, 'success', 'Result=success (not timeout)');
    // The ground hears how it ended: an ack sent before the stop, or, once the agent is back, the
    // outcome of the retained desired config (applied, or a duplicate of what was applied).
    const aimVersion = () => {
      const file = JSON.parse(c.read('/var/lib/aim-agent/aim-params.json')) as { version?: number; config?: { version?: number } };
      return file.version ?? file.config?.version;
    };
    // The aim file is whole after the stop: the new version or the old one, never a mix.
    const atStop = aimVersion();
    t.ok(atStop === 43 || atStop === 44, `aim file after the stop: v${atStop}`);
    await c.run(['systemctl', 'start', 'aim-agent']);
    const acks = (await pushing).stdout;
    const ack = acks.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { status: string; rolledBack?: boolean }).at(-1);
    t.match(ack?.status, /^(applied|duplicate|failed)$/, `the ground heard how it ended: ${ack?.status}`);
    if (ack?.status === 'failed') {
      // Cut short: the ack says whether the FC is back on the previous values (with a 1 s round trip
      // and a 3 s stop budget it may not be), and the file was not swapped.
      t.type(ack.rolledBack, 'boolean', `failed, rolledBack ${ack.rolledBack}`);
      t.equal(atStop, 43, 'a failed apply left the previous aim file');
    } else t.equal(aimVersion(), 44, 'applied: the aim file is v44');
  });

  await t.test('stop with the broker frozen (SIGSTOP mosquitto): inside the budget, no timeout', async (t) => {
    await fcSim();
    await c.run(['systemctl', 'start', 'aim-agent']);
    await active();
    const broker = (await c.run(['systemctl', 'show', 'mosquitto', '-p', 'MainPID', '--value'])).trim();
    await c.run(['kill', '-STOP', broker]);
    try {
      const stop = await timedStop();
      t.ok(stop.ms <= STOP_BUDGET_MS, `stopped in ${Math.round(stop.ms)} ms (budget ${STOP_BUDGET_MS} ms)`);
      t.equal(stop.Result, 'success', 'Result=success (not timeout)');
    } finally {
      await c.run(['kill', '-CONT', broker]);
    }
  });

  await t.test('upgrade N-1 → N keeps aim file, settings and keys, and restarts the service once', async (t) => {
    await c.run(['systemctl', 'start', 'aim-agent']);
    await active();
    const kept = ['/var/lib/aim-agent/aim-params.json', SETTINGS, KEY_PUB].map((p) => [p, c.read(p)] as const);
    const { InvocationID } = await show('InvocationID');
    const before = await cursor();
    const up = await c.exec(['dpkg', '-i', `/aim-debs/${cur.split('/').at(-1)}`], { timeoutMs: 120_000 });
    t.equal(up.code, 0, `dpkg -i N exits 0 ${up.stderr}`);
    t.equal((await c.run(['dpkg-query', '-W', '-f', '${Version}', 'aim-agent'])).trim(), version);
    for (const [p, text] of kept) t.equal(c.read(p), text, `${p} unchanged`);
    await active();
    const s = await show('InvocationID', 'ActiveState');
    t.not(s.InvocationID, InvocationID, 'a new invocation');
    const starts = (await journal(before, '-u', 'aim-agent')).filter((e) => /^Started aim-agent/.test(e.MESSAGE ?? ''));
    t.equal(starts.length, 1, 'started exactly once during the upgrade');
  });

  await t.test('remove keeps settings and state; purge removes them', async (t) => {
    await c.run(['dpkg', '-r', 'aim-agent'], { timeoutMs: 60_000 });
    t.equal((await show('ActiveState')).ActiveState, 'inactive', 'stopped');
    t.ok(existsSync(c.host('/var/lib/aim-agent/aim-params.json')) && existsSync(c.host(SETTINGS)), 'aim file and settings kept');
    t.notOk(existsSync(c.host('/usr/lib/aim-agent')), 'the app is gone');
    await c.run(['dpkg', '--purge', 'aim-agent'], { timeoutMs: 60_000 });
    t.notOk(existsSync(c.host('/var/lib/aim-agent')), '/var/lib/aim-agent purged');
    t.notOk(existsSync(c.host('/etc/aim-agent')), '/etc/aim-agent purged');
  });

  if (t.passing()) return;
  t.comment(`container console:\n${consoleText.slice(-4000)}`);
}

/** The agent's JSON log line inside a journal entry, if it is one. */
function parseLog(e: JournalEntry): Record<string, unknown> | undefined {
  const m = e.MESSAGE;
  if (typeof m !== 'string' || !m.startsWith('{')) return undefined;
  try {
    return JSON.parse(m) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
