import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli, spawnTracked, waitFor } from '../../test/support/index.js';
import { Locksmith } from './locksmith.js';
import { decodeHeartbeat, encodeHeartbeat, HEARTBEAT_BYTES } from './heartbeat-file.js';
import { isTagAlive, ownerGone, ownerTag, parseProcStat, procInfo, readBootId, readStartTime, readUptimeMs, type ProcInfo } from './proc.js';

t.test('parses /proc/<pid>/stat even when the command name holds spaces and parentheses', async (t) => {
  const tail = Array.from({ length: 50 }, (_, i) => String(i + 3));
  tail[0] = 'S';
  tail[19] = '123456';
  t.same(parseProcStat(`42 (my (odd) name) ${tail.join(' ')}`), { state: 'S', startTime: '123456' });
  t.equal(parseProcStat('garbage'), undefined);
});

t.test('reads this process: boot id, uptime, a start time that does not change', async (t) => {
  t.match(readBootId(), /^[0-9a-f-]{36}$/);
  const a = readUptimeMs();
  t.ok(a > 0);
  t.ok(readUptimeMs() >= a, 'uptime is monotonic');
  const st = readStartTime(process.pid);
  t.match(st, /^\d+$/);
  t.equal(readStartTime(process.pid), st);
  t.equal(readStartTime(0), undefined);
  t.equal(readStartTime(2 ** 22 + 1), undefined, 'a pid above pid_max is gone');
  t.ok(isTagAlive(ownerTag()), 'our own tag is alive');
  t.notOk(isTagAlive(ownerTag().replace(/-\d+$/, '-1')), 'same pid, other start time: dead');
  t.ok(isTagAlive(ownerTag().replace(/^[0-9a-f]{8}/, '00000000')), 'another boot id, same live pid and start time: alive');
  t.notOk(isTagAlive(`00000000-${2 ** 22 + 1}-1`), 'another boot id, pid gone: dead');
});

t.test('a zombie counts as gone: it has exited and only waits to be reaped', async (t) => {
  // `sleep` (exec'd by sh) never reaps the child sh started before it, so that child stays a zombie.
  const p = spawnTracked(t, 'sh', ['-c', 'sh -c "exit 0" & echo $!; exec sleep 30']);
  const pid = Number(await p.waitForLine(/^\d+$/));
  await waitFor('the zombie', () => readStartTime(pid) === undefined, { timeoutMs: 5000 });
  t.equal(readStartTime(pid), undefined);
  t.ok(readStartTime(p.child.pid ?? 0), 'its living parent is not');
});

t.test('heartbeat payload: fixed size, and a torn read is detected, never misread', async (t) => {
  const a = encodeHeartbeat(123456, 1700000000000);
  const b = encodeHeartbeat(129999, 1700000009999);
  t.equal(a.length, HEARTBEAT_BYTES);
  t.equal(b.length, HEARTBEAT_BYTES);
  t.same(decodeHeartbeat(a), { uptimeMs: 123456, wallMs: 1700000000000 });
  for (let cut = 1; cut < HEARTBEAT_BYTES; cut++) {
    const torn = Buffer.concat([b.subarray(0, cut), a.subarray(cut)]);
    const got = decodeHeartbeat(torn);
    if (got !== undefined) t.ok(got.uptimeMs === 123456 || got.uptimeMs === 129999, `cut ${cut} reads the old or the new beat`);
  }
  t.equal(decodeHeartbeat(Buffer.alloc(0)), undefined);
  t.equal(procInfo.pid, process.pid);
});

t.test('boot identity: a live owner is alive whatever boot id either side sees; a dead one names its boot', async (t) => {
  let uptime = 50_000;
  const procs = new Map([[100, '4242']]);
  const proc: ProcInfo = { pid: 1, bootId: () => 'kernel-view', uptimeMs: () => uptime, startTime: (pid) => procs.get(pid), hostname: () => 'h' };
  const owner = { pid: 100, startTime: '4242', bootId: 'container-view', heartbeatUptimeMs: 49_000 };
  t.equal(ownerGone(owner, proc), undefined, 'same pid and start time under another boot id view: alive');
  t.equal(ownerGone({ ...owner, bootId: 'kernel-view' }, proc), undefined);
  t.match(ownerGone({ ...owner, startTime: '1' }, proc), /another boot/, 'other boot id and pid reused: from another boot');
  t.match(ownerGone({ ...owner, startTime: '1', bootId: 'kernel-view' }, proc), /now belongs to another process/);
  t.match(ownerGone({ ...owner, pid: 7 }, proc), /another boot/);
  t.match(ownerGone({ ...owner, pid: 7, bootId: 'kernel-view' }, proc), /pid 7 is gone/);
  // A record of a real earlier boot whose pid and start tick match by chance: its heartbeat lies
  // ahead of this boot's clock.
  uptime = 20_000;
  t.match(ownerGone(owner, proc), /another boot/);
  t.equal(ownerGone({ ...owner, bootId: 'kernel-view', heartbeatUptimeMs: 19_000 }, proc), undefined);
});

t.test('a real `lock run -- sleep` holder is never reclaimed by a process that sees another boot id', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-bootid-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const holder = spawnCli(t, 'aim-agent', ['lock', 'run', '--state-dir', dir, '--', 'sh', '-c', 'echo HOLDING; exec sleep 30']);
  await holder.waitForLine(/HOLDING/, 15_000);
  // This process plays the sandboxed service: the kernel's boot id instead of the container's.
  const otherView: ProcInfo = { ...procInfo, bootId: () => 'ffffffff-0000-4000-8000-000000000000' };
  const smith = new Locksmith({ stateDir: dir, proc: otherView });
  t.teardown(() => smith.close());
  t.match(await smith.status(), { state: 'held' });
  t.equal(await smith.reclaimStale(), undefined, 'not reclaimed at start');
  await t.rejects(smith.breakLock({ force: false }), { code: 'AIM_ERR_LOCK_HELD' }, 'not broken by a non-forced break');
  await t.rejects(smith.acquire({ timeoutMs: 300 }), { code: 'AIM_ERR_LOCK_TIMEOUT' }, 'not taken by acquire');
  holder.kill('SIGKILL');
  await holder.exited;
  t.match(await smith.reclaimStale(), { reason: /another boot|is gone/ }, 'once the holder is dead it is reclaimed at once');
});
