import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../test/support/index.js';
import { loadSettings } from '../agent/settings.js';

const here = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
const UNIT = here('aim-agent.service');
const unitText = readFileSync(UNIT, 'utf8');
/** The bound from issue 6; aim-agent.service's header states the current rating. */
const MAX_EXPOSURE = 2.5;

function need(t: Test, tool: string, pkg?: string): boolean {
  return requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, tool, pkg);
}

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `Key=value` lines of the unit (comments and sections dropped), in order. */
function directives(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
const values = (key: string) => directives(unitText).filter(([k]) => k === key).map(([, v]) => v);

t.test('systemd-analyze verify passes (ExecStart pointed at a stand-in, the app is not installed here)', async (t) => {
  if (!need(t, 'systemd-analyze', 'systemd')) return;
  // verify insists that ExecStart's binary exists and is executable, and --root= needs a whole
  // systemd tree. So verify a copy whose launcher path names a stub; nothing else is changed.
  // install.test.ts verifies the installed unit against the installed launcher as well.
  const dir = tempDir(t, 'aim-unit-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/aim-agent'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const copy = join(dir, 'aim-agent.service');
  writeFileSync(copy, unitText.replaceAll('/opt/aim-agent/bin/aim-agent', join(dir, 'bin/aim-agent')));
  t.not(readFileSync(copy, 'utf8'), unitText, 'ExecStart was rewritten');
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
  t.equal(r.status, 0, `verify exit 0\n${r.stderr}`);
  // verify exits 0 on lines it ignores ("Failed to parse sec value, ignoring"), so read what it said.
  t.same(r.stderr.split('\n').filter((l) => l.includes('aim-agent')), [], 'no warning about aim-agent.service');
});

t.test(`systemd-analyze security --offline rates the unit at most ${MAX_EXPOSURE}`, async (t) => {
  if (!need(t, 'systemd-analyze', 'systemd')) return;
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', `--threshold=${MAX_EXPOSURE * 10}`, UNIT], { encoding: 'utf8' });
  const m = /Overall exposure level for aim-agent\.service: (\d+(?:\.\d+)?)/.exec(r.stdout);
  t.ok(m, m ? 'found the overall rating' : `no overall rating in:\n${r.stdout}${r.stderr}`);
  const score = Number(m?.[1]);
  t.ok(score <= MAX_EXPOSURE, `exposure ${score} <= ${MAX_EXPOSURE}`);
  t.equal(r.status, 0, '--threshold agrees');
  t.comment(`aim-agent.service exposure: ${score}`);
  // The device filter as systemd parsed it: the FC serial port is in, nothing else of the hardware.
  const acl = /DeviceAllow=.*?device ACL[^:]*:(.*?)\s+\d\.\d\s*$/m.exec(r.stdout)?.[1] ?? '';
  for (const dev of ['/dev/serial0:rw', '/dev/ttyAMA0:rw', '/dev/ttyS0:rw', 'char-ttyUSB:rw', 'char-ttyACM:rw']) t.match(acl, dev, `device ACL has ${dev}`);
});

t.test('the unit keeps what the agent needs, whatever a hardening pass might try', async (t) => {
  t.same(values('Type'), ['notify']);
  t.same(values('NotifyAccess'), ['all'], 'systemd-notify sends from its own pid (agent/sd-notify.ts)');
  t.match(values('WatchdogSec')[0] ?? '', /^\d+s?$/);
  t.same(values('Restart'), ['on-failure']);
  t.ok(values('StartLimitIntervalSec').length === 1 && values('StartLimitBurst').length === 1, 'start-rate limits set');
  t.same(values('User'), ['aim-agent']);
  t.same(values('SupplementaryGroups'), ['dialout']);
  t.same(values('ExecStart'), ['/opt/aim-agent/bin/aim-agent run --settings /etc/aim-agent/agent.json']);
  t.same(
    values('ExecReload'),
    ['/opt/aim-agent/bin/aim-agent check-settings --settings /etc/aim-agent/agent.json', '/bin/kill -HUP $MAINPID'],
    'reload checks the settings (a bad file fails `systemctl reload`), then SIGHUP (agent/commands/run.ts)',
  );
  t.same(values('StateDirectory'), ['aim-agent']);
  t.same(values('StateDirectoryMode'), ['0750']);
  t.same(values('ConfigurationDirectory'), ['aim-agent']);
  t.same(values('RuntimeDirectory'), ['aim-agent']);
  t.same(values('DevicePolicy'), ['closed']);
  t.same(values('RestrictAddressFamilies'), ['AF_UNIX AF_INET AF_INET6'], 'MQTT (v4/v6) and sd_notify, nothing more');
  // V8's JIT maps pages writable and executable; with this set node dies at start.
  t.same(values('MemoryDenyWriteExecute'), []);
  // Would hide the lock owner's /proc entry or the boot id from the lock's liveness check.
  t.same(values('ProtectProc'), []);
  t.same(values('ProcSubset'), []);
  t.same(values('PrivateDevices'), [], 'PrivateDevices would hide the serial port');
});

t.test('sysusers.d and tmpfiles.d make the user, its groups and the directories', async (t) => {
  if (!need(t, 'systemd-sysusers', 'systemd') || !need(t, 'systemd-tmpfiles', 'systemd')) return;
  const root = tempDir(t, 'aim-root-');
  mkdirSync(join(root, 'etc'));
  // Start from this machine's accounts so dialout exists, as on Debian.
  for (const f of ['passwd', 'group']) copyFileSync(`/etc/${f}`, join(root, 'etc', f));
  const su = spawnSync('systemd-sysusers', [`--root=${root}`, here('aim-agent.sysusers.conf')], { encoding: 'utf8' });
  t.equal(su.status, 0, `systemd-sysusers exit 0 ${su.status === 0 ? '' : su.stderr}`);
  const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('aim-agent:'));
  const [, , uid, gid, , home, shell] = passwd?.split(':') ?? [];
  t.ok(Number(uid) > 0 && Number(uid) < 1000, `system uid (${uid})`);
  t.equal(home, '/var/lib/aim-agent');
  t.match(shell ?? '', /nologin$/);
  const groups = readFileSync(join(root, 'etc/group'), 'utf8').split('\n');
  t.match(groups.find((l) => l.startsWith('dialout:')) ?? '', /[:,]aim-agent(,|$)/, 'aim-agent is in dialout');
  t.ok(groups.some((l) => l.startsWith(`aim-agent:x:${gid}:`)), 'group aim-agent is its primary group');

  if (process.getuid?.() !== 0) {
    t.comment('not root: tmpfiles ownership cannot be applied here; modes only checked as root');
    return;
  }
  const tf = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', here('aim-agent.tmpfiles.conf')], { encoding: 'utf8' });
  t.equal(tf.status, 0, `systemd-tmpfiles exit 0 ${tf.status === 0 ? '' : tf.stderr}`);
  for (const [dir, owner] of [['etc/aim-agent', 0], ['etc/aim-agent/keys', 0], ['var/lib/aim-agent', Number(uid)]] as const) {
    const st = statSync(join(root, dir));
    t.equal((st.mode & 0o7777).toString(8), '750', `${dir} is 0750`);
    t.same([st.uid, st.gid], [owner, Number(gid)], `${dir} is ${owner === 0 ? 'root' : 'aim-agent'}:aim-agent`);
  }
});

t.test('agent.json.example is valid settings, and the drone logs in to the broker as itself (ACL)', async (t) => {
  const s = loadSettings(here('agent.json.example'));
  t.equal(s.broker.username, s.droneId, 'mosquitto-acl.example keys on username == drone id');
  t.match(s.fc.link, /^serial:\/dev\/serial0:/);
  t.equal(s.stateDir, '/var/lib/aim-agent', 'the unit\'s StateDirectory');
  for (const f of [s.broker.passwordFile, s.broker.ca, ...s.security.trustedKeys]) t.match(f ?? '', /^\/etc\/aim-agent\//, `${f} is under ConfigurationDirectory`);
});
