import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireBuild, requireTool, ROOT } from '../test/support/index.js';

const INSTALL = fileURLToPath(new URL('./install.sh', import.meta.url));
const here = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));

function need(t: Test, tool: string, pkg?: string): boolean {
  return requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, tool, pkg);
}

/** RAM-backed when the machine has /dev/shm: this tests the installer, not the disk. */
function scratchBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

function destdir(t: Test): string {
  const dir = mkdtempSync(join(scratchBase(), 'aim-destdir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, NODE: process.execPath, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every entry under `dir`: type, permission bits, owner, link target or content hash. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    const id = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    const rel = relative(dir, p) || '.';
    if (st.isSymbolicLink()) out.set(rel, `link ${id} -> ${readlinkSync(p)}`);
    else if (st.isFile()) out.set(rel, `file ${id} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    else if (st.isDirectory()) {
      out.set(rel, `dir ${id}`);
      for (const e of readdirSync(p)) walk(join(p, e));
    } else out.set(rel, `other ${id}`);
  };
  walk(dir);
  return out;
}

const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

t.test('install.sh into a DESTDIR: the files and modes, a second run changes nothing, uninstall keeps settings', async (t) => {
  if (!requireBuild(t, join(ROOT, 'dist/bundle/aim-agent.js')) || !need(t, 'systemd-analyze', 'systemd')) return;
  const D = destdir(t);
  const app = join(D, 'opt/aim-agent');

  const first = run({ DESTDIR: D });
  t.equal(first.code, 0, `first run exits 0 ${first.err}`);
  t.notMatch(first.out, /systemctl|enabled|restarted/, 'nothing is enabled into a DESTDIR');

  const expect: [string, string][] = [
    ['opt/aim-agent', '755'],
    ['opt/aim-agent/bin/aim-agent', '755'],
    ['opt/aim-agent/dist/bundle/aim-agent.js', '755'], // esbuild marks an entry with a #! line executable
    ['opt/aim-agent/package.json', '644'],
    ['opt/aim-agent/node_modules/serialport/package.json', '644'],
    ['opt/aim-agent/share/examples/agent.json.example', '644'],
    ['opt/aim-agent/share/examples/mosquitto-acl.example', '644'],
    ['opt/aim-agent/share/examples/mosquitto.conf.example', '644'],
    ['opt/aim-agent/share/doc/field-guide.md', '644'],
    ['usr/local/lib/systemd/system/aim-agent.service', '644'],
    ['usr/local/lib/sysusers.d/aim-agent.conf', '644'],
    ['usr/local/lib/tmpfiles.d/aim-agent.conf', '644'],
    ['etc/aim-agent', '750'],
    ['etc/aim-agent/agent.json', '640'],
  ];
  for (const [p, m] of expect) t.equal(existsSync(join(D, p)) && mode(join(D, p)), m, `${p} ${m}`);
  t.equal(readlinkSync(join(D, 'usr/local/bin/aim-agent')), '/opt/aim-agent/bin/aim-agent');
  t.equal(readFileSync(join(D, 'usr/local/lib/systemd/system/aim-agent.service'), 'utf8'), readFileSync(here('aim-agent.service'), 'utf8'), 'the unit as shipped (default PREFIX)');
  t.equal(readFileSync(join(D, 'etc/aim-agent/agent.json'), 'utf8'), readFileSync(here('agent.json.example'), 'utf8'));
  t.equal(
    readFileSync(join(app, 'bin/aim-agent'), 'utf8').split('\n').find((l) => l.startsWith('exec ')),
    `exec "${process.execPath}" --lite-mode --no-expose-wasm --max-semi-space-size=1 "/opt/aim-agent/dist/bundle/aim-agent.js" "$@"`,
    'the launcher execs node (node stays the main PID)',
  );
  t.same(readdirSync(join(D, 'opt')), ['aim-agent'], 'no staging leftovers');

  // The bundle has every dependency inlined but serialport (scripts/bundle/bundle.ts): node_modules holds
  // serialport's run-time packages only, with this machine's binding, and the whole app stays small.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = Object.entries(lock.packages).filter(([p, e]) => p.startsWith('node_modules/') && e.dev).map(([p]) => p);
  t.ok(devOnly.length > 0);
  t.same(devOnly.filter((p) => existsSync(join(app, p))), [], `none of the ${devOnly.length} dev-only packages is installed`);
  t.same(['mqtt', 'pino', 'zod', 'node-mavlink', 'mavlink-mappings', 'typescript'].filter((d) => existsSync(join(app, 'node_modules', d))), [], 'bundled dependencies are not installed again');
  t.same(readdirSync(join(app, 'node_modules/@serialport/bindings-cpp/prebuilds')), [`linux-${process.arch}`], 'only this architecture\'s serialport binding');
  t.notOk(existsSync(join(app, 'node_modules/@serialport/bindings-cpp/src')), 'no C++ sources');
  const bytes = Number(spawnSync('du', ['-sb', app], { encoding: 'utf8' }).stdout.split('\t')[0]);
  t.ok(bytes > 0 && bytes <= 8 * 1024 * 1024, `the app is ${(bytes / 1048576).toFixed(1)} MB (at most 8 MB)`);
  const load = spawnSync(process.execPath, ['--input-type=module', '-e', 'await import("serialport");'], { cwd: app, encoding: 'utf8' });
  t.equal(load.status, 0, `serialport imports from ${app} ${load.stderr}`);
  const version = spawnSync(process.execPath, [join(app, 'dist/bundle/aim-agent.js'), '--version'], { encoding: 'utf8' });
  t.equal(version.stdout.trim(), pkg.version, 'the installed CLI runs');
  // The bundle leaves serialport (a native binding) to node_modules: the FC chunk must load in the installed tree.
  const fcChunk = readdirSync(join(app, 'dist/bundle')).find((f) => /^fc-\w+\.js$/.test(f));
  t.ok(fcChunk, 'the bundle has its FC chunk');
  const fcLoad = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(app, 'dist/bundle', fcChunk ?? 'missing'))}); if (typeof m.openFcLink !== 'function') process.exit(3);`], { encoding: 'utf8' });
  t.equal(fcLoad.status, 0, `the installed bundle's FC link loads with serialport from node_modules ${fcLoad.stderr}`);

  // The installed unit against the installed launcher (paths moved into the DESTDIR).
  const unitCopy = join(D, 'verify/aim-agent.service');
  mkdirSync(join(D, 'verify'));
  writeFileSync(unitCopy, readFileSync(join(D, 'usr/local/lib/systemd/system/aim-agent.service'), 'utf8').replaceAll('/opt/aim-agent/', `${app}/`));
  const verify = spawnSync('systemd-analyze', ['verify', '--man=no', unitCopy], { encoding: 'utf8' });
  t.equal(verify.status, 0, `installed unit verifies ${verify.stderr}`);
  t.same(verify.stderr.split('\n').filter((l) => l.includes('aim-agent')), []);
  rmSync(join(D, 'verify'), { recursive: true });

  // Settings the operator edited survive, and otherwise the second run is a no-op.
  writeFileSync(join(D, 'etc/aim-agent/agent.json'), '{"droneId":"drone-42"}\n');
  const before = snapshot(D);
  const writable = [...before].filter(([p, s]) => p !== '.' && !s.startsWith('link') && (parseInt(s.split(' ')[1]!, 8) & 0o022) !== 0);
  t.same(writable, [], 'nothing group- or world-writable');
  const second = run({ DESTDIR: D });
  t.equal(second.code, 0, `second run exits 0 ${second.err}`);
  t.same(second.out.trim().split('\n').map((l) => l.split(':')[0]), ['unchanged', 'kept'], `second run reports no change:\n${second.out}`);
  t.same(Object.fromEntries(snapshot(D)), Object.fromEntries(before), 'second run changed no file, mode, owner or link');

  const un = run({ DESTDIR: D }, '--uninstall');
  t.equal(un.code, 0, `uninstall exits 0 ${un.err}`);
  for (const gone of ['opt/aim-agent', 'usr/local/bin/aim-agent', 'usr/local/lib/systemd/system/aim-agent.service', 'usr/local/lib/sysusers.d/aim-agent.conf', 'usr/local/lib/tmpfiles.d/aim-agent.conf'])
    t.notOk(existsSync(join(D, gone)), `removed ${gone}`);
  t.equal(readFileSync(join(D, 'etc/aim-agent/agent.json'), 'utf8'), '{"droneId":"drone-42"}\n', 'settings kept');
  const purge = run({ DESTDIR: D }, '--uninstall', '--purge');
  t.equal(purge.code, 0, purge.err);
  t.notOk(existsSync(join(D, 'etc/aim-agent')), '--purge removes /etc/aim-agent');
  t.equal(run({ DESTDIR: D }, '--uninstall').code, 0, 'uninstalling twice is fine');
});

/** A minimal built checkout for --source: enough for install.sh, no 60 MB of node_modules. */
function fakeSource(t: Test): string {
  const dir = destdir(t);
  const binding = 'node_modules/@serialport/bindings-cpp';
  for (const d of ['dist/bundle', 'docs', 'node_modules/serialport', `${binding}/prebuilds/linux-${process.arch}`]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'dist/bundle/aim-agent.js'), 'console.log("0.0.0")\n');
  writeFileSync(join(dir, 'docs/field-guide.md'), '# guide\n');
  writeFileSync(join(dir, 'package.json'), '{"name":"fake","version":"0.0.0","type":"module"}\n');
  writeFileSync(join(dir, 'node_modules/serialport/package.json'), '{"name":"serialport","version":"1.0.0"}\n');
  writeFileSync(join(dir, binding, 'package.json'), '{"name":"@serialport/bindings-cpp","version":"1.0.0"}\n');
  writeFileSync(join(dir, binding, `prebuilds/linux-${process.arch}/fake.glibc.node`), '');
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages: {
    '': {}, 'node_modules/serialport': { version: '1.0.0', dependencies: { '@serialport/bindings-cpp': '1.0.0' } }, [binding]: { version: '1.0.0' },
  } }));
  return dir;
}

t.test('PREFIX moves the app, and the unit and launcher follow it (--source: a stand-in build)', async (t) => {
  const D = destdir(t);
  const r = run({ DESTDIR: D, PREFIX: '/srv/aim/agent' }, '--source', fakeSource(t));
  t.equal(r.code, 0, r.err);
  t.ok(existsSync(join(D, 'srv/aim/agent/dist/bundle/aim-agent.js')));
  t.ok(existsSync(join(D, 'srv/aim/agent/node_modules/@serialport/bindings-cpp/package.json')), 'serialport comes from the --source tree');
  t.notOk(existsSync(join(D, 'opt/aim-agent')));
  const unit = readFileSync(join(D, 'usr/local/lib/systemd/system/aim-agent.service'), 'utf8');
  t.match(unit, /^ExecStart=\/srv\/aim\/agent\/bin\/aim-agent run --settings \/etc\/aim-agent\/agent\.json$/m);
  t.notMatch(unit, /\/opt\/aim-agent/);
  t.match(readFileSync(join(D, 'srv/aim/agent/bin/aim-agent'), 'utf8'), /"\/srv\/aim\/agent\/dist\/bundle\/aim-agent\.js"/);
  t.equal(readlinkSync(join(D, 'usr/local/bin/aim-agent')), '/srv/aim/agent/bin/aim-agent');
  t.equal(run({ DESTDIR: D, PREFIX: '/srv/aim/agent' }, '--uninstall').code, 0);
  t.notOk(existsSync(join(D, 'srv/aim/agent')));
});

t.test('install.sh refuses what it must not do', async (t) => {
  const D = destdir(t);
  t.equal(run({ DESTDIR: D }, '--bogus').code, 2, 'unknown option: usage error');
  t.equal(run({ DESTDIR: D, PREFIX: '/' }, '--uninstall').code, 1, 'PREFIX=/ refused');
  t.equal(run({ DESTDIR: D, PREFIX: 'opt/aim' }).code, 1, 'relative PREFIX refused');
  t.equal(run({ DESTDIR: D }, '--purge').code, 1, '--purge without --uninstall refused');
  const noNode = run({ DESTDIR: D, NODE: '/nonexistent/node' }, '--source', fakeSource(t));
  t.same([noNode.code, /node not found/.test(noNode.err)], [1, true], 'missing node refused');
  const noDist = run({ DESTDIR: D }, '--source', D);
  t.same([noDist.code, /npm run build/.test(noDist.err)], [1, true], 'unbuilt source refused with the command to run');
  // A directory at PREFIX that is not ours is never deleted.
  mkdirSync(join(D, 'opt/aim-agent/data'), { recursive: true });
  const foreign = run({ DESTDIR: D }, '--uninstall');
  t.same([foreign.code, /does not look like an aim-agent install/.test(foreign.err)], [1, true]);
  t.ok(existsSync(join(D, 'opt/aim-agent/data')), 'foreign directory left alone');
});
