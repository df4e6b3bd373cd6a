import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool, requireBuild, requireTool, ROOT } from '../test/support/index.js';

// The drone's .deb as built by `npm run package` (packaging/build-deb.sh). systemd/nspawn.test.ts
// installs it under a real systemd; this checks what is in it.

const BUILD = join(ROOT, 'packaging/build-deb.sh');
const ARCHS = { amd64: { dir: 'linux-x64', machine: 'X86-64' }, arm64: { dir: 'linux-arm64', machine: 'AArch64' }, armhf: { dir: 'linux-arm', machine: 'ARM' } } as const;
const PREFIX = 'usr/lib/aim-agent';
/** Installed size, Node excluded (issue's bound). */
const MAX_KB = 8 * 1024;

function need(t: Test, tool: string, pkg?: string): boolean {
  return requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, tool, pkg);
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-deb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Paths in the .deb (`./` stripped; directories end in `/`). */
const contents = (deb: string) =>
  execFileSync('tar', ['-t', '-f', '-'], { input: execFileSync('dpkg-deb', ['--fsys-tarfile', deb], { maxBuffer: 64 << 20 }), encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((p) => p.replace(/^\.\//, ''));
const field = (deb: string, name: string) => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();

t.test('one .deb per architecture, built offline: its binding only, no ground tool, settings a conffile, small', async (t) => {
  if (!requireBuild(t, join(ROOT, 'dist/bundle/aim-agent.js')) || !need(t, 'dpkg-deb', 'dpkg-dev')) return;
  const out = tempDir(t);
  // No network at all for the build when this machine can make a network namespace (root).
  const offline = process.getuid?.() === 0 && hasTool('unshare');
  const r = spawnSync(offline ? 'unshare' : 'bash', [...(offline ? ['-n', 'bash'] : []), BUILD, '--out', out], { encoding: 'utf8' });
  t.equal(r.status, 0, `build-deb.sh exit 0 ${r.stderr}`);
  t.comment(offline ? 'built in a network namespace with no interfaces up' : 'not root: built with the network present');
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  t.same(readdirSync(out).sort(), Object.keys(ARCHS).map((a) => `aim-agent_${version}_${a}.deb`).sort());

  for (const [arch, { dir, machine }] of Object.entries(ARCHS)) {
    const deb = join(out, `aim-agent_${version}_${arch}.deb`);
    t.equal(field(deb, 'Architecture'), arch);
    t.match(field(deb, 'Depends'), /(^|, )nodejs \(>= 20\)(,|$)/, `${arch}: Depends nodejs (>= 20)`);
    const size = Number(field(deb, 'Installed-Size'));
    t.ok(size > 0 && size <= MAX_KB, `${arch}: installed size ${size} KiB <= ${MAX_KB}`);
    const files = contents(deb);
    const bindings = files.filter((f) => f.endsWith('.node'));
    t.ok(bindings.length > 0 && bindings.every((f) => f.startsWith(`${PREFIX}/node_modules/@serialport/bindings-cpp/prebuilds/${dir}/`) && f.includes('.glibc.')), `${arch}: only ${dir} glibc bindings: ${bindings.map((b) => b.split('/').at(-1)).join(' ')}`);
    const ctl = tempDir(t);
    execFileSync('dpkg-deb', ['-x', deb, ctl]);
    for (const b of bindings) t.match(execFileSync('readelf', ['-h', join(ctl, b)], { encoding: 'utf8' }), new RegExp(`Machine:\\s+.*${machine}`), `${b.split('/').at(-1)} is ${machine}`);
    for (const f of ['usr/bin/aim-agent', `${PREFIX}/bin/aim-agent`, `${PREFIX}/dist/bundle/aim-agent.js`, 'lib/systemd/system/aim-agent.service', 'usr/lib/sysusers.d/aim-agent.conf', 'usr/lib/tmpfiles.d/aim-agent.conf', 'etc/aim-agent/agent.json', 'usr/share/doc/aim-agent/copyright'])
      t.ok(files.includes(f), `${arch}: has ${f}`);
    t.same(files.filter((f) => /(^|\/)(aimctl|fc-sim)|dist\/(sim|ground|test)\/|node_modules\/(typescript|mqtt|tap)\//.test(f)), [], `${arch}: no ground tool, simulator, tests or bundled packages`);
    execFileSync('dpkg-deb', ['-e', deb, join(ctl, 'DEBIAN')]);
    t.equal(readFileSync(join(ctl, 'DEBIAN/conffiles'), 'utf8'), '/etc/aim-agent/agent.json\n', `${arch}: agent.json is a conffile`);
    for (const s of ['postinst', 'prerm', 'postrm']) t.equal(spawnSync('sh', ['-n', join(ctl, 'DEBIAN', s)]).status, 0, `${arch}: ${s} parses`);
    t.match(readFileSync(join(ctl, 'lib/systemd/system/aim-agent.service'), 'utf8'), /^ExecStart=\/usr\/lib\/aim-agent\/bin\/aim-agent run /m, 'the unit points at the package\'s launcher');
    t.match(readFileSync(join(ctl, PREFIX, 'bin/aim-agent'), 'utf8'), /^exec "\/usr\/bin\/node" .* "\/usr\/lib\/aim-agent\/dist\/bundle\/aim-agent\.js" "\$@"$/m, 'the launcher runs Debian\'s node');
  }
});

t.test('lintian finds no errors (warnings are listed in README "Packaging")', async (t) => {
  if (!requireBuild(t, join(ROOT, 'dist/bundle/aim-agent.js')) || !need(t, 'dpkg-deb', 'dpkg-dev') || !need(t, 'lintian')) return;
  const out = tempDir(t);
  execFileSync('bash', [BUILD, '--arch', 'amd64', '--out', out]);
  const deb = join(out, readdirSync(out)[0]!);
  const r = spawnSync('lintian', ['--tag-display-limit', '0', deb], { encoding: 'utf8' });
  const lines = r.stdout.split('\n').filter(Boolean);
  t.same(lines.filter((l) => l.startsWith('E:')), [], 'no E: lines');
  t.same(lines.filter((l) => l.startsWith('W:')).map((l) => l.split(' ')[2]), ['no-manual-page'], `only the known warning:\n${r.stdout}`);
});

t.test('install.sh installs the same files as the .deb (packaging/layout.sh)', async (t) => {
  if (!requireBuild(t, join(ROOT, 'dist/bundle/aim-agent.js')) || !need(t, 'dpkg-deb', 'dpkg-dev')) return;
  const out = tempDir(t);
  const arch = { x64: 'amd64', arm64: 'arm64', arm: 'armhf' }[process.arch as string];
  if (!arch) return void t.plan(0, `no .deb for ${process.arch}`);
  execFileSync('bash', [BUILD, '--arch', arch, '--out', out]);
  const deb = join(out, readdirSync(out)[0]!);
  const D = tempDir(t);
  const r = spawnSync('bash', [join(ROOT, 'systemd/install.sh')], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE: process.execPath, DESTDIR: D } });
  t.equal(r.status, 0, r.stderr);
  const installed = execFileSync('find', ['.', '-type', 'f'], { cwd: join(D, 'opt/aim-agent'), encoding: 'utf8' }).split('\n').filter(Boolean).map((p) => p.slice(2));
  const packaged = contents(deb).filter((f) => f.startsWith(`${PREFIX}/`) && !f.endsWith('/')).map((f) => f.slice(PREFIX.length + 1));
  // install.sh keeps musl bindings too (it serves any Linux); the .deb is glibc-only.
  const noMusl = (l: string[]) => l.filter((f) => !f.includes('.musl.')).sort();
  t.same(noMusl(installed), noMusl(packaged), 'the same app files');
  const unit = (p: string) => readFileSync(p, 'utf8').replaceAll('/usr/lib/aim-agent', '@PREFIX@').replaceAll('/opt/aim-agent', '@PREFIX@');
  const ctl = tempDir(t);
  execFileSync('dpkg-deb', ['-x', deb, ctl]);
  t.equal(unit(join(D, 'usr/local/lib/systemd/system/aim-agent.service')), unit(join(ctl, 'lib/systemd/system/aim-agent.service')), 'the same unit but for the prefix');
  for (const d of ['sysusers.d', 'tmpfiles.d'])
    t.equal(readFileSync(join(D, 'usr/local/lib', d, 'aim-agent.conf'), 'utf8'), readFileSync(join(ctl, 'usr/lib', d, 'aim-agent.conf'), 'utf8'), `the same ${d}`);
  t.equal(readFileSync(join(D, 'etc/aim-agent/agent.json'), 'utf8'), readFileSync(join(ctl, 'etc/aim-agent/agent.json'), 'utf8'), 'the same example settings');
});
