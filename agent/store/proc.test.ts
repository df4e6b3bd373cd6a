import t from 'tap';
import { spawnTracked, waitFor } from '../../test/support/index.js';
import { decodeHeartbeat, encodeHeartbeat, HEARTBEAT_BYTES } from './heartbeat-file.js';
import { isTagAlive, ownerTag, parseProcStat, procInfo, readBootId, readStartTime, readUptimeMs } from './proc.js';

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
  t.notOk(isTagAlive('00000000-1-1'), 'other boot: dead');
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
