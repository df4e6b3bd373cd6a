import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalSha256, isAimError, parseAimConfig } from '../../protocol/index.js';
import { AimStore, Locksmith, aimFileText, nodeFs, type LockHandle, type StoreFs } from './index.js';
import { docFor } from './test-fixtures/docs.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function setup(t: Test, opts: { fs?: StoreFs } = {}) {
  const stateDir = join(tempDir(t), 'state');
  const store = new AimStore({ stateDir, ...opts });
  await store.init();
  const smith = new Locksmith({ stateDir, ...opts });
  t.teardown(() => smith.close());
  const lock = await smith.acquire({ timeoutMs: 1000 });
  return { stateDir, store, smith, lock };
}

async function commitDoc(store: AimStore, lock: LockHandle, version: number, appliedAt = '2026-11-26T14:00:00Z') {
  await store.commit(await store.stage(docFor(version, 5)), lock, { appliedAt });
}

const temps = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

t.test('test documents are valid aim configs', async (t) => {
  for (const v of [1, 2, 96, 1000]) {
    const r = parseAimConfig(aimFileText(docFor(v)));
    t.ok(r.ok, `doc ${v}`);
  }
});

t.test('init creates the state dir 0750; files are 0640; nothing to read at first', async (t) => {
  const stateDir = join(tempDir(t), 'a', 'state');
  const store = new AimStore({ stateDir });
  t.same(await store.init(), { removedTemps: [] });
  t.equal(statSync(stateDir).mode & 0o777, 0o750);
  t.equal(await store.readCurrent(), undefined);
  t.equal(await store.readPrevious(), undefined);
  t.same(await store.readState(), { appliedVersion: null, id: null, sha256: null, appliedAt: null, lastToken: 0, derived: false });
});

t.test('commit swaps the file in, keeps the old one as .prev, and writes the state after it', async (t) => {
  const { stateDir, store, lock } = await setup(t);
  await commitDoc(store, lock, 1, '2026-11-26T14:00:01Z');
  await commitDoc(store, lock, 2, '2026-11-26T14:00:02Z');
  const cur = await store.readCurrent();
  t.equal(cur?.config.version, 2);
  t.equal(cur?.sha256, canonicalSha256(docFor(2, 5)));
  t.equal((await store.readPrevious())?.config.version, 1);
  t.equal(readFileSync(join(stateDir, 'aim-params.json'), 'utf8'), aimFileText(docFor(2, 5)), 'pretty canonical JSON');
  t.same(await store.readState(), { appliedVersion: 2, id: 'test-v2', sha256: cur?.sha256, appliedAt: '2026-11-26T14:00:02Z', lastToken: lock.token, derived: false });
  for (const f of ['aim-params.json', 'aim-params.prev.json', 'state.json']) t.equal(statSync(join(stateDir, f)).mode & 0o777, 0o640, f);
  t.same(temps(stateDir), []);
});

t.test('abort removes the staged file and leaves the current one', async (t) => {
  const { stateDir, store, lock } = await setup(t);
  await commitDoc(store, lock, 1);
  const staged = await store.stage(docFor(2, 5));
  t.equal(temps(stateDir).length, 1);
  await store.abort(staged);
  t.same(temps(stateDir), []);
  t.equal((await store.readCurrent())?.config.version, 1);
  await t.rejects(store.commit(staged, lock, { appliedAt: 'x' }), TypeError, 'a staged file is used once');
});

t.test('when state.json disagrees with the aim file after a crash, the file wins', async (t) => {
  const { stateDir, store, lock } = await setup(t);
  await commitDoc(store, lock, 1);
  await commitDoc(store, lock, 2);
  // A crash after the file rename, before the state rename: the state still names version 1.
  writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ appliedVersion: 1, id: 'test-v1', sha256: canonicalSha256(docFor(1, 5)), appliedAt: 'x', lastToken: 3 }));
  t.same(await store.readState(), { appliedVersion: 2, id: 'test-v2', sha256: canonicalSha256(docFor(2, 5)), appliedAt: null, lastToken: 3, derived: true });
  writeFileSync(join(stateDir, 'state.json'), '{torn');
  t.match(await store.readState(), { appliedVersion: 2, derived: true });
});

t.test('a corrupt aim file is AIM_ERR_STORE_CORRUPT, not a crash or a silent default', async (t) => {
  const { stateDir, store } = await setup(t);
  writeFileSync(join(stateDir, 'aim-params.json'), '{"kind":"aim-config"');
  await t.rejects(store.readCurrent(), { code: 'AIM_ERR_STORE_CORRUPT' });
  writeFileSync(join(stateDir, 'aim-params.prev.json'), JSON.stringify({ ...docFor(1, 0), surprise: 1 }));
  await t.rejects(store.readPrevious(), { code: 'AIM_ERR_STORE_CORRUPT' });
});

t.test('init removes temp files of dead writers and keeps those of live ones', async (t) => {
  const { stateDir, store } = await setup(t);
  const dead = 'aim-params.json.00000000-12345-999.abcd.tmp';
  const deadState = 'state.json.00000000-1-1.ef01.tmp';
  writeFileSync(join(stateDir, dead), '{"partial');
  writeFileSync(join(stateDir, deadState), '');
  const live = await store.stage(docFor(3, 5)); // this process's own staged file
  const r = await store.init();
  t.same(r.removedTemps.sort(), [dead, deadState].sort());
  t.same(temps(stateDir), [live.path.split('/').pop()]);
});

t.test('commit with a lock that was broken and taken over is fenced; the newer file stays', async (t) => {
  const { stateDir, store, smith, lock } = await setup(t);
  await commitDoc(store, lock, 1);
  const staged = await store.stage(docFor(2, 5));
  await smith.breakLock({ force: true });
  const other = new Locksmith({ stateDir });
  t.teardown(() => other.close());
  const newer = await other.acquire({ timeoutMs: 1000 });
  t.ok(newer.token > lock.token);
  await commitDoc(store, newer, 3);
  const err = await store.commit(staged, lock, { appliedAt: 'x' }).catch((e: unknown) => e);
  t.ok(isAimError(err, 'AIM_ERR_FENCED'), `fenced: ${String(err)}`);
  t.equal((await store.readCurrent())?.config.version, 3);
  t.equal((await store.readPrevious())?.config.version, 1);
  t.same(temps(stateDir), [], 'the fenced staged file is gone');
  await t.rejects(store.commit(await store.stage(docFor(4, 5)), lock, { appliedAt: 'x' }), { code: 'AIM_ERR_FENCED' }, 'every later write by the old holder is fenced too');
  t.equal((await store.readCurrent())?.config.version, 3);
});

/** node fs with one call made to fail, so each step of stage/commit can be hit by ENOSPC or EIO. */
function faultyFs(fail: (op: string, path: string) => string | undefined): StoreFs {
  const boom = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  const check = (op: string, path: string) => {
    const code = fail(op, path);
    if (code !== undefined) throw boom(code);
  };
  return {
    ...nodeFs,
    async open(path, flags, mode) {
      check('open', path);
      const fh = await nodeFs.open(path, flags, mode);
      return {
        writeFile: async (d) => (check('write', path), fh.writeFile(d)),
        write: async (b, o, l, p) => (check('write', path), fh.write(b, o, l, p)),
        sync: async () => (check('sync', path), fh.sync()),
        close: () => fh.close(),
      };
    },
    readFile: async (p) => (check('read', p), nodeFs.readFile(p)),
    rename: async (a, b) => (check('rename', b), nodeFs.rename(a, b)),
    link: async (a, b) => (check('link', b), nodeFs.link(a, b)),
  };
}

t.test('ENOSPC or EIO at any step of stage or commit: a clear AIM_ERR_STORE_IO, the current file untouched', async (t) => {
  const cases: { name: string; when: (op: string, path: string) => boolean; code: string; in: 'stage' | 'commit' }[] = [
    { name: 'disk full writing the staged file', when: (op, p) => op === 'write' && p.includes('aim-params.json.'), code: 'ENOSPC', in: 'stage' },
    { name: 'EIO on fsync of the staged file', when: (op, p) => op === 'sync' && p.includes('aim-params.json.'), code: 'EIO', in: 'stage' },
    { name: 'disk full writing the state', when: (op, p) => op === 'write' && p.includes('state.json.'), code: 'ENOSPC', in: 'commit' },
    { name: 'EIO linking the previous file', when: (op) => op === 'link', code: 'EIO', in: 'commit' },
    { name: 'EIO renaming the aim file', when: (op, p) => op === 'rename' && p.endsWith('/aim-params.json'), code: 'EIO', in: 'commit' },
    { name: 'EIO reading the lock at the fence check', when: (op, p) => op === 'read' && p.endsWith('/aim.lock'), code: 'EIO', in: 'commit' },
  ];
  for (const c of cases) {
    let armed = false;
    const { stateDir, store, lock } = await setup(t, { fs: faultyFs((op, p) => (armed && c.when(op, p) ? c.code : undefined)) });
    await commitDoc(store, lock, 1);
    const before = readFileSync(join(stateDir, 'aim-params.json'));
    armed = c.in === 'stage';
    const err = await (async () => {
      const staged = await store.stage(docFor(2, 5));
      armed = true;
      await store.commit(staged, lock, { appliedAt: 'x' });
    })().catch((e: unknown) => e);
    t.ok(isAimError(err, 'AIM_ERR_STORE_IO'), `${c.name}: ${String(err)}`);
    t.match((err as { details?: { errno?: string } }).details, { errno: c.code }, `${c.name}: errno kept`);
    t.match(String((err as Error).message), /untouched/, `${c.name}: says the file is untouched`);
    t.same(readFileSync(join(stateDir, 'aim-params.json')), before, `${c.name}: current file untouched`);
    t.equal((await store.readState()).appliedVersion, 1, `${c.name}: state still names version 1`);
    t.same(temps(stateDir), [], `${c.name}: no temp files left`);
    armed = false;
    await commitDoc(store, lock, 3);
    t.equal((await store.readCurrent())?.config.version, 3, `${c.name}: works again once the fault is gone`);
  }
});

t.test('a corrupt aim file is moved aside (kept for forensics) and a valid config replaces it; put back when asked', async (t) => {
  const { stateDir, store, lock } = await setup(t);
  t.equal(await store.setAsideCorrupt(lock), undefined, 'no file: nothing to set aside');
  await commitDoc(store, lock, 1);
  t.equal(await store.setAsideCorrupt(lock), undefined, 'a valid file stays');
  writeFileSync(join(stateDir, 'aim-params.json'), '{"kind": "aim-config", torn');
  await t.rejects(store.readState(), { code: 'AIM_ERR_STORE_CORRUPT' });
  const kept = await store.setAsideCorrupt(lock, new Date('2026-12-01T12:00:00.123Z'));
  t.equal(kept, 'aim-params.corrupt-2026-12-01T12-00-00-123Z.json');
  t.equal(readFileSync(join(stateDir, kept!), 'utf8'), '{"kind": "aim-config", torn', 'kept byte for byte');
  t.equal(await store.readCurrent(), undefined);
  await store.restoreCorrupt(kept!);
  await t.rejects(store.readCurrent(), { code: 'AIM_ERR_STORE_CORRUPT' }, 'put back');
  await store.setAsideCorrupt(lock, new Date('2026-12-01T12:00:01Z'));
  await commitDoc(store, lock, 2);
  t.equal((await store.readCurrent())?.config.version, 2);
  t.equal(await store.readPrevious(), undefined, 'the corrupt file never becomes .prev');
});

t.test('setAsideCorrupt is fenced like commit', async (t) => {
  const { stateDir, store, lock } = await setup(t);
  writeFileSync(join(stateDir, 'aim-params.json'), 'garbage');
  const fenced = { token: lock.token, assertHeld: async () => Promise.reject(Object.assign(new Error('lost'), { code: 'AIM_ERR_FENCED' })), release: async () => undefined } as unknown as LockHandle;
  await t.rejects(store.setAsideCorrupt(fenced), /lost/);
  t.equal(readFileSync(join(stateDir, 'aim-params.json'), 'utf8'), 'garbage', 'left in place');
});

t.test('markAcked / readAcked: a durable record of the last ack in the outbox', async (t) => {
  const { stateDir, store } = await setup(t);
  t.equal(await store.readAcked(), null);
  await store.markAcked('a'.repeat(64));
  await store.markAcked('b'.repeat(64));
  t.equal(await store.readAcked(), 'b'.repeat(64));
  t.same(temps(stateDir), [], 'no temp files left');
  writeFileSync(join(stateDir, 'acked.json'), 'not json');
  t.equal(await store.readAcked(), null, 'unreadable: the ack is owed again (harmless)');
});
