import t from 'tap';
import { AimError, canonicalSha256 } from '../../protocol/index.js';
import { config, raw, rig } from './test-helpers/fakes.js';

/** Let promise chains run (no time passes: the clock is fake). */
const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

t.test('applied: FC set and verified, file committed, reported emitted, lock released', async (t) => {
  const { pipeline, fc, store, lock, acks } = rig();
  const reported: unknown[] = [];
  pipeline.on('reported', (r) => reported.push(r));
  pipeline.submit(raw(config(1)));
  await pipeline.idle();
  t.match(acks, [{ status: 'applied', stage: 'done', version: 1, lockToken: 1 }]);
  t.equal(fc.values.get('TST_A'), 1);
  t.same(store.commits, [1]);
  t.equal(reported.length, 1);
  t.equal(lock.held?.released, true);
  t.equal(pipeline.state, 'idle');
});

t.test('dry-run: diff only, nothing written', async (t) => {
  const { pipeline, fc, store, acks } = rig();
  pipeline.submit(raw(config(1, { apply: { when: 'immediate', dryRun: true } })));
  await pipeline.idle();
  t.match(acks, [{ status: 'dry-run', reason: '2 of 2 parameters would change' }]);
  t.equal(fc.setCalls.length, 0);
  t.equal(store.staged, 0);
});

t.test('duplicate (live) and silent (retained, ack on record); conflict on reuse; stale when older', async (t) => {
  const { pipeline, store, acks } = rig();
  pipeline.submit(raw(config(2)));
  await pipeline.idle();
  await pipeline.ackDelivered(acks[0]!);
  t.equal(store.acked, acks[0]!.sha256);
  pipeline.submit(raw(config(2)));
  await pipeline.idle();
  t.match(acks[1], { status: 'duplicate', stage: 'version' });
  pipeline.submit(raw(config(2)), { retained: true });
  await pipeline.idle();
  t.equal(acks.length, 2, 'a retained repeat whose ack is on record is quiet');
  pipeline.submit(raw(config(2, { id: 'other' })));
  await pipeline.idle();
  t.match(acks[2], { status: 'rejected', code: 'AIM_ERR_CONFLICT', errors: [{ path: 'version' }] });
  pipeline.submit(raw(config(1)));
  await pipeline.idle();
  t.match(acks[3], { status: 'rejected', code: 'AIM_ERR_STALE', errors: [{ path: 'version' }] });
});

t.test('dry-run failures: link down, read error', async (t) => {
  const down = rig();
  down.fc.up = false;
  down.pipeline.submit(raw(config(1, { apply: { when: 'immediate', dryRun: true } })));
  await down.pipeline.idle();
  t.match(down.last(), { status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', rolledBack: true });
  const bad = rig();
  bad.fc.params.getMany = async () => Promise.reject(new AimError('AIM_ERR_FC_TIMEOUT', 'silent'));
  bad.pipeline.submit(raw(config(1, { apply: { when: 'immediate', dryRun: true } })));
  await bad.pipeline.idle();
  t.match(bad.last(), { status: 'failed', stage: 'read', code: 'AIM_ERR_FC_TIMEOUT', rolledBack: true });
});

t.test('another writer applies a newer version while this one waits for the lock: rejected stale under the lock, nothing written', async (t) => {
  const { pipeline, lock, store, fc, acks } = rig();
  lock.onAcquire = () => {
    const v9 = config(9);
    store.current = { config: v9, sha256: canonicalSha256(v9) };
  };
  pipeline.submit(raw(config(3)));
  await pipeline.idle();
  t.match(acks, [{ version: 3, status: 'rejected', stage: 'version', code: 'AIM_ERR_STALE', reason: /version 9 was applied meanwhile/ }]);
  t.equal(fc.setCalls.length, 0);
  t.equal(store.staged, 0);
});

t.test('the state cannot be read (disk error): failed with its code, nothing written', async (t) => {
  const r = rig();
  r.store.stateError = new AimError('AIM_ERR_STORE_IO', 'EIO reading state.json');
  r.pipeline.submit(raw(config(1)));
  await r.pipeline.idle();
  t.match(r.last(), { status: 'failed', stage: 'state', code: 'AIM_ERR_STORE_IO', rolledBack: true });
  t.equal(r.fc.setCalls.length, 0);
});

t.test('reboot-required parameters are named in the applied ack; the aim command result is reported', async (t) => {
  const r = rig();
  r.fc.values.set('MNT1_TYPE', 0);
  r.pipeline.submit(raw(config(1, { params: { MNT1_TYPE: 1 }, aim: { pitchDeg: -20, yawDeg: 0 } })));
  await r.pipeline.idle();
  t.match(r.last(), { status: 'applied', reason: /MNT1_TYPE take effect after a flight-controller reboot/, aim: { result: 'accepted' } });
  t.equal(r.fc.aimCalls, 1);
});

t.test('intake rejections: invalid, unsigned when required, not the target, expired, too many params (path params)', async (t) => {
  const { pipeline, acks, store, fc } = rig();
  pipeline.submit(Buffer.from('{"kind":'));
  pipeline.submit(raw(config(1, { targets: ['other'] })));
  pipeline.submit(raw(config(1, { expiresAt: '2026-12-01T11:30:00Z' })));
  const params: Record<string, number> = {};
  for (let i = 0; i < 65; i++) params[`TST_${i}`] = i;
  pipeline.submit(raw(config(1, { params })));
  t.match(acks, [
    { status: 'rejected', code: 'AIM_ERR_INVALID' },
    { status: 'rejected', code: 'AIM_ERR_NOT_TARGET', errors: [{ path: 'targets' }] },
    { status: 'rejected', code: 'AIM_ERR_EXPIRED', errors: [{ path: 'expiresAt' }] },
    { status: 'rejected', code: 'AIM_ERR_INVALID', errors: [{ path: 'params', message: /at most 64 parameters/ }] },
  ]);
  delete params.TST_64;
  for (const name of Object.keys(params)) fc.values.set(name, 0);
  pipeline.submit(raw(config(1, { params })));
  await pipeline.idle();
  t.match(acks[4], { status: 'applied' }, '64 parameters are fine');
  const strict = rig({ requireSignature: true });
  strict.pipeline.submit(raw(config(1)));
  t.match(strict.acks, [{ status: 'rejected', code: 'AIM_ERR_SIGNATURE' }]);
  t.equal(store.commits.length, 1);
});

t.test('deferred until disarmed, then applied; a deadline on injected time fails it with AIM_ERR_ARMED', async (t) => {
  const { pipeline, fc, time, acks } = rig();
  fc.setArmed(true);
  pipeline.submit(raw(config(1, { apply: { when: 'disarmed' } })));
  await settle();
  t.match(acks, [{ status: 'deferred', stage: 'window' }]);
  t.equal(pipeline.state, 'deferred');
  fc.setArmed(false);
  await pipeline.idle();
  t.match(acks[1], { status: 'applied' });

  fc.setArmed(true);
  pipeline.submit(raw(config(2, { apply: { when: 'disarmed', deadlineSec: 60 } })));
  await settle();
  time.advance(59_999);
  await settle();
  t.equal(acks.length, 3, 'still deferred 1 ms before the deadline');
  time.advance(1);
  await pipeline.idle();
  t.match(acks[3], { status: 'failed', stage: 'window', code: 'AIM_ERR_ARMED', rolledBack: true });
  t.equal(fc.values.get('TST_A'), 1, 'nothing was written');
});

t.test('deferred config expiring while it waits for the lock: rejected under the lock, nothing written', async (t) => {
  const { pipeline, fc, time, lock, store, acks } = rig();
  fc.setArmed(true);
  pipeline.submit(raw(config(1, { apply: { when: 'disarmed' }, expiresAt: '2026-12-01T12:05:00Z' })));
  await settle();
  lock.onAcquire = () => time.advance(10 * 60_000); // another writer holds the lock for ten minutes
  fc.setArmed(false);
  await pipeline.idle();
  t.match(acks[1], { status: 'rejected', stage: 'expiry', code: 'AIM_ERR_EXPIRED', errors: [{ path: 'expiresAt' }] });
  t.equal(fc.setCalls.length, 0, 'no PARAM_SET');
  t.equal(store.commits.length, 0);
  t.equal(store.aborted, store.staged, 'nothing left staged');
});

t.test('re-armed while waiting for the lock: no write, waits for the window again, then applies', async (t) => {
  const { pipeline, fc, lock, acks } = rig();
  fc.setArmed(true);
  pipeline.submit(raw(config(1, { apply: { when: 'disarmed' } })));
  await settle();
  let first = true;
  lock.onAcquire = () => {
    if (first) fc.setArmed(true); // armed again between the disarm and the lock
    first = false;
  };
  fc.setArmed(false);
  await settle();
  t.equal(fc.setCalls.length, 0, 'nothing written while armed');
  t.equal(pipeline.state, 'deferred');
  t.equal(acks.length, 1, 'one deferred ack, not two');
  fc.setArmed(false);
  await pipeline.idle();
  t.match(acks[1], { status: 'applied' });
});

t.test('re-armed while waiting for the lock with a newer config queued: the older one is superseded, the newer one waits', async (t) => {
  const { pipeline, fc, lock, acks } = rig();
  fc.setArmed(true);
  pipeline.submit(raw(config(1, { apply: { when: 'disarmed' } })));
  await settle();
  let first = true;
  lock.onAcquire = () => {
    if (!first) return;
    first = false;
    pipeline.submit(raw(config(2, { apply: { when: 'disarmed' } }))); // arrives while v1 waits for the lock
    fc.setArmed(true);
  };
  fc.setArmed(false);
  await settle();
  t.match(acks.slice(1), [{ version: 1, status: 'superseded', reason: /by version 2/ }, { version: 2, status: 'deferred' }]);
  fc.setArmed(false);
  await pipeline.idle();
  t.match(acks.at(-1), { version: 2, status: 'applied' });
  t.equal(fc.setCalls.length, 1);
});

t.test('superseded: a newer config replaces a queued one and a deferred one', async (t) => {
  const { pipeline, fc, acks } = rig();
  fc.setArmed(true);
  pipeline.submit(raw(config(1, { apply: { when: 'disarmed' } })));
  await settle();
  pipeline.submit(raw(config(2, { apply: { when: 'disarmed' } })));
  await settle();
  t.match(acks[1], { version: 1, status: 'superseded', stage: 'window' });
  pipeline.submit(raw(config(3, { apply: { when: 'disarmed' } })));
  await settle();
  t.match(acks.slice(2), [{ version: 2, status: 'deferred' }, { version: 2, status: 'superseded' }]);
  fc.setArmed(false);
  await pipeline.idle();
  t.match(acks[acks.length - 1], { version: 3, status: 'applied' });
});

t.test('withdraw: the queued and the deferred config are cancelled with a superseded ack that says why', async (t) => {
  const { pipeline, fc, acks, store } = rig();
  fc.setArmed(true);
  pipeline.submit(raw(config(1, { apply: { when: 'disarmed' } })));
  await settle();
  pipeline.withdraw();
  await pipeline.idle();
  t.match(acks[1], { version: 1, status: 'superseded', reason: /withdrawn/ });
  t.equal(store.commits.length, 0);
  t.equal(pipeline.state, 'idle');
});

t.test('a replayed older config never displaces a queued newer one; a conflicting one neither', async (t) => {
  const { pipeline, fc, acks, store } = rig();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  fc.onSet = (list, _opts, call) => (call === 1 ? gate.then(() => list.map((p) => (fc.echo(p.name, p.value), { name: p.name, want: p.value, got: p.value, result: 'ok' as const, attempts: 1 }))) : undefined);
  pipeline.submit(raw(config(11)));
  await settle();
  pipeline.submit(raw(config(12)));
  pipeline.submit(raw(config(5))); // replay, validly signed in real life, not retained
  t.match(acks.at(-1), { version: 5, status: 'rejected', stage: 'queue', code: 'AIM_ERR_STALE' }, 'rejected at once');
  pipeline.submit(raw(config(12, { id: 'different' })));
  t.match(acks.at(-1), { version: 12, status: 'rejected', code: 'AIM_ERR_CONFLICT' });
  pipeline.submit(raw(config(11, { id: 'different' })));
  t.match(acks.at(-1), { version: 11, status: 'rejected', code: 'AIM_ERR_STALE' });
  release();
  await pipeline.idle();
  t.same(store.commits, [11, 12], 'v12 still applies');
  t.notOk(acks.some((a) => a.status === 'superseded'), 'nothing was displaced');
});

t.test('fuzz: over random submit sequences no older/equal config displaces a newer queued one, and the newest always applies', async (t) => {
  let seed = 42;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let round = 0; round < 200; round++) {
    const { pipeline, fc, acks, store } = rig();
    const gates: (() => void)[] = [];
    fc.onSet = (list) =>
      new Promise<void>((r) => gates.push(r)).then(() => list.map((p) => (fc.echo(p.name, p.value), { name: p.name, want: p.value, got: p.value, result: 'ok' as const, attempts: 1 })));
    let newest = 0;
    for (let i = 0; i < 8; i++) {
      const v = 1 + rnd(10);
      const variant = rnd(3) === 0 ? 'b' : 'a';
      pipeline.submit(raw(config(v, { id: `v${v}${variant}` })));
      if (rnd(2) === 0) {
        await settle();
        gates.splice(0).forEach((g) => g());
      }
      newest = Math.max(newest, v);
    }
    for (let k = 0; k < 20 && gates.length + 1 > 0; k++) {
      await settle();
      gates.splice(0).forEach((g) => g());
    }
    await pipeline.idle();
    for (const a of acks.filter((x) => x.status === 'superseded')) {
      const by = Number(/superseded by version (\d+)/.exec(a.reason ?? '')?.[1]);
      if (!(by > (a.version ?? 0))) t.fail(`round ${round}: v${a.version} superseded by v${by}`);
    }
    const applied = store.current !== undefined && store.current !== 'corrupt' ? store.current.config.version : 0;
    if (applied !== newest) t.fail(`round ${round}: applied ${applied}, newest ${newest}`);
  }
  t.pass('200 random sequences');
});

t.test('failed before any write: lock, stage, link down, read error, unknown parameter — rolledBack true, nothing staged left', async (t) => {
  const cases: [string, (r: ReturnType<typeof rig>) => void, object][] = [
    ['lock', (r) => (r.lock.acquireError = new AimError('AIM_ERR_LOCK_TIMEOUT', 'held by pid 7')), { stage: 'lock', code: 'AIM_ERR_LOCK_TIMEOUT' }],
    ['stage', (r) => (r.store.stageError = new AimError('AIM_ERR_STORE_IO', 'ENOSPC')), { stage: 'stage', code: 'AIM_ERR_STORE_IO' }],
    ['link', (r) => (r.fc.up = false), { stage: 'read', code: 'AIM_ERR_FC_LINK' }],
    ['unknown', (r) => r.fc.values.delete('TST_B'), { stage: 'read', code: 'AIM_ERR_FC_REJECTED', reason: /no parameter TST_B/ }],
    ['read', (r) => (r.fc.params.getMany = async () => Promise.reject(new AimError('AIM_ERR_FC_LINK', 'link lost'))), { stage: 'read', code: 'AIM_ERR_FC_LINK' }],
  ];
  for (const [name, arrange, want] of cases) {
    const r = rig();
    arrange(r);
    r.pipeline.submit(raw(config(1)));
    await r.pipeline.idle();
    t.match(r.last(), { status: 'failed', rolledBack: true, ...want }, name);
    t.equal(r.fc.setCalls.length, 0, `${name}: no PARAM_SET`);
    t.equal(r.store.aborted, r.store.staged, `${name}: staged file removed`);
  }
});

t.test('an unknown parameter is answered within (retries+1) x paramTimeoutMs', async (t) => {
  const r = rig({ paramTimeoutMs: 1000, paramRetries: 3 });
  r.fc.values.delete('TST_B');
  r.pipeline.submit(raw(config(1)));
  await r.pipeline.idle();
  t.match(r.last(), { status: 'failed', code: 'AIM_ERR_FC_REJECTED' });
  t.ok(r.last()!.timings.totalMs <= 4000, `answered in ${r.last()!.timings.totalMs} ms`);
  t.match(r.fc.getCalls[0], { timeoutMs: 1000, retries: 3 }, 'the per-attempt timeout is the parameter timeout');
});

t.test('failed after writes: verified rollback → rolledBack true; push, aim and commit failures all roll back once', async (t) => {
  const cases: [string, (r: ReturnType<typeof rig>) => void, object][] = [
    ['push mismatch', (r) => (r.fc.onSet = (l, _o, call) => (call === 1 ? Promise.resolve(l.map((p) => ({ name: p.name, want: p.value, got: 9, result: 'mismatch' as const, attempts: 3 }))) : undefined)), { stage: 'push', code: 'AIM_ERR_FC_VERIFY' }],
    ['push timeout', (r) => (r.fc.onSet = (l, _o, call) => (call === 1 ? Promise.resolve(l.map((p) => ({ name: p.name, want: p.value, got: null, result: 'timeout' as const, attempts: 3 }))) : undefined)), { stage: 'push', code: 'AIM_ERR_FC_TIMEOUT' }],
    ['push denied', (r) => (r.fc.onSet = (l, _o, call) => (call === 1 ? Promise.resolve(l.map((p) => ({ name: p.name, want: p.value, got: 0, result: 'denied' as const, attempts: 3 }))) : undefined)), { stage: 'push', code: 'AIM_ERR_FC_REJECTED' }],
    ['push throws', (r) => (r.fc.onSet = (_l, _o, call) => (call === 1 ? Promise.reject(new AimError('AIM_ERR_FC_LINK', 'cut')) : undefined)), { stage: 'push', code: 'AIM_ERR_FC_LINK' }],
    ['aim refused', (r) => (r.fc.aimResult = 'denied'), { stage: 'aim', code: 'AIM_ERR_FC_REJECTED', aim: { result: 'denied' } }],
    ['commit io', (r) => (r.store.commitError = new AimError('AIM_ERR_STORE_IO', 'EIO')), { stage: 'commit', code: 'AIM_ERR_STORE_IO' }],
  ];
  for (const [name, arrange, want] of cases) {
    const r = rig();
    arrange(r);
    r.pipeline.submit(raw(config(1, { aim: { pitchDeg: -10, yawDeg: 0 } })));
    await r.pipeline.idle();
    t.match(r.last(), { status: 'failed', rolledBack: true, ...want }, name);
    t.equal(r.fc.setCalls.length, 2, `${name}: one push, one restore`);
    t.same(r.fc.setCalls[1], [{ name: 'TST_A', value: 0 }, { name: 'TST_B', value: 0 }], `${name}: restore puts the read values back`);
    t.equal(r.fc.values.get('TST_A'), 0, `${name}: FC back on its old value`);
    t.equal(r.store.commits.length, 0);
    t.same(r.reconciles, []);
  }
});

t.test('rolledBack is true only when every restored value was verified; otherwise the ack names them and reconciliation is scheduled', async (t) => {
  for (const restoreResult of ['unchanged', 'timeout', 'mismatch'] as const) {
    const r = rig();
    r.fc.onSet = (l, _o, call) =>
      call === 1
        ? Promise.resolve(l.map((p) => ({ name: p.name, want: p.value, got: 9, result: 'mismatch' as const, attempts: 3 })))
        : Promise.resolve(l.map((p) => ({ name: p.name, want: p.value, got: p.name === 'TST_B' ? null : p.value, result: p.name === 'TST_B' ? restoreResult : ('ok' as const), attempts: 1 })));
    r.pipeline.submit(raw(config(1)));
    await r.pipeline.idle();
    t.match(r.last(), { status: 'failed', rolledBack: false, reason: /state unknown for TST_B/, errors: [{ path: 'params.TST_B' }] }, restoreResult);
    t.equal(r.reconciles.length, 1, `${restoreResult}: reconciliation scheduled`);
  }
  const down = rig();
  down.fc.onSet = (_l, _o, call) => (call === 1 ? ((down.fc.up = false), Promise.reject(new AimError('AIM_ERR_FC_LINK', 'link lost'))) : undefined);
  down.pipeline.submit(raw(config(1)));
  await down.pipeline.idle();
  t.match(down.last(), { status: 'failed', rolledBack: false, reason: /state unknown for TST_A, TST_B/ }, 'link down: restore impossible');
  t.equal(down.fc.setCalls.length, 1);
});

t.test('FC writes are fenced: losing the lock mid-push stops the push and never "rolls back" over the new holder', async (t) => {
  const r = rig();
  let sawAbort = false;
  r.fc.onSet = (_l, opts, call) => {
    if (call !== 1) return undefined;
    return new Promise((_res, rej) => {
      const signal = opts.signal!;
      signal.addEventListener('abort', () => {
        sawAbort = true;
        rej(new AimError('AIM_ERR_ABORTED', 'param set aborted'));
      });
      r.lock.held!.lose('AIM_ERR_FENCED'); // the holder learns it lost the lock while pushing
    });
  };
  r.pipeline.submit(raw(config(1)));
  await r.pipeline.idle();
  t.ok(sawAbort, 'the push saw the lock loss');
  t.equal(r.fc.setCalls.length, 1, 'no restore writes');
  t.match(r.last(), { status: 'failed', stage: 'push', code: 'AIM_ERR_FENCED', rolledBack: false, reason: /aim lock was lost/ });
  t.equal(r.store.commits.length, 0);

  const c = rig();
  c.store.commitError = new AimError('AIM_ERR_FENCED', 'token 1 is not the current holder');
  c.pipeline.submit(raw(config(1)));
  await c.pipeline.idle();
  t.match(c.last(), { status: 'failed', stage: 'commit', code: 'AIM_ERR_FENCED', rolledBack: false });
  t.equal(c.fc.setCalls.length, 1, 'fenced commit: no restore');
});

t.test('FC writes are fenced on injected time: a holder frozen past half the lock TTL stops writing at once', async (t) => {
  const hang = (r: ReturnType<typeof rig>, duringFreeze: () => void) => {
    r.fc.onSet = (_l, opts, call) => {
      if (call !== 1) return undefined;
      return new Promise((_res, rej) => {
        opts.signal!.addEventListener('abort', () => rej(new AimError('AIM_ERR_ABORTED', 'param set aborted')));
        duringFreeze();
        r.time.freeze(6000); // SIGSTOP for 6 s with a 10 s TTL
      });
    };
  };
  const taken = rig({ lockTtlMs: 10_000 });
  hang(taken, () => taken.lock.held!.takeOver());
  taken.pipeline.submit(raw(config(1)));
  await taken.pipeline.idle();
  t.match(taken.last(), { status: 'failed', stage: 'push', code: 'AIM_ERR_ABORTED', rolledBack: false, reason: /frozen for 6\d{3} ms.*aim lock was lost/ });
  t.equal(taken.fc.setCalls.length, 1, 'taken over: no rollback writes');

  const kept = rig({ lockTtlMs: 10_000 });
  hang(kept, () => undefined);
  kept.pipeline.submit(raw(config(1)));
  await kept.pipeline.idle();
  t.match(kept.last(), { status: 'failed', stage: 'push', code: 'AIM_ERR_ABORTED', rolledBack: true, reason: /frozen/ });
  t.equal(kept.fc.setCalls.length, 2, 'still ours on disk: rolled back');

  const short = rig({ lockTtlMs: 10_000 });
  short.fc.onSet = (_l, _o, call) => {
    if (call === 1) short.time.freeze(4000); // a stall under TTL/2 is no reason to stop
    return undefined;
  };
  short.pipeline.submit(raw(config(1)));
  await short.pipeline.idle();
  t.match(short.last(), { status: 'applied' });
  t.equal(short.time.pendingTimers(), 0, 'the fence timer is stopped after the transaction');
});

t.test('a corrupt aim file is replaced by a valid config and kept aside; the ack says so', async (t) => {
  const r = rig();
  r.store.current = 'corrupt';
  r.pipeline.submit(raw(config(3)));
  await r.pipeline.idle();
  t.match(r.last(), { status: 'applied', reason: /replaced a corrupt aim file \(kept as aim-params\.corrupt-0\.json\)/ });
  t.same(r.store.keptAside, ['aim-params.corrupt-0.json']);
  t.same(r.store.commits, [3]);

  const failing = rig();
  failing.store.current = 'corrupt';
  failing.store.commitError = new AimError('AIM_ERR_STORE_IO', 'EIO');
  failing.pipeline.submit(raw(config(3)));
  await failing.pipeline.idle();
  t.match(failing.last(), { status: 'failed', stage: 'commit', rolledBack: true });
  t.equal(failing.store.current, 'corrupt', 'the corrupt file is put back when its replacement fails');
});

t.test('an unexpected error is never labelled AIM_ERR_STORE_IO', async (t) => {
  const r = rig();
  r.store.stateError = new TypeError('boom');
  r.pipeline.submit(raw(config(1)));
  await r.pipeline.idle();
  t.match(r.last(), { status: 'failed', stage: 'state', reason: /unexpected error: boom/ });
  t.equal(r.last()!.code, undefined);
  const s = rig();
  s.store.stageError = new RangeError('bad');
  s.pipeline.submit(raw(config(1)));
  await s.pipeline.idle();
  t.equal(s.last()!.code, undefined);
  t.match(s.last(), { status: 'failed', stage: 'stage' });
});

t.test('parameter cache: a wall-clock step back does not make a value from an earlier link session look current', async (t) => {
  const r = rig();
  r.fc.echo('TST_A', 7); // seen in the first link session
  r.fc.echo('TST_B', 7);
  r.time.advance(60_000);
  r.fc.up = false;
  r.fc.emit('down');
  r.time.advance(1000);
  r.time.wall -= 3_600_000; // NTP steps the wall clock back an hour (a Pi without RTC)
  r.fc.up = true;
  r.fc.emit('up');
  r.fc.values.set('TST_A', 3); // changed while the link was down
  r.pipeline.submit(raw(config(1)));
  await r.pipeline.idle();
  t.equal(r.fc.getCalls.length, 1, 'the FC was read: the cached values are from before the link came back');
  t.match(r.last(), { status: 'applied' });

  const fresh = rig();
  fresh.fc.echo('TST_A', 0);
  fresh.fc.echo('TST_B', 0);
  fresh.pipeline.submit(raw(config(1)));
  await fresh.pipeline.idle();
  t.equal(fresh.fc.getCalls.length, 0, 'values seen in this link session stand in for a read');
});

t.test('an ack lost to a crash: a retained desired that is applied but not acked gets its ack once', async (t) => {
  const r = rig();
  const c = config(4);
  r.store.current = { config: c, sha256: canonicalSha256(c) };
  r.store.appliedAt = '2026-12-01T11:59:00.000Z';
  r.pipeline.submit(raw(c), { retained: true });
  await r.pipeline.idle();
  t.match(r.acks, [{ version: 4, status: 'applied', reason: /lost to a restart/ }]);
  await r.pipeline.ackDelivered(r.acks[0]!);
  r.pipeline.submit(raw(c), { retained: true });
  await r.pipeline.idle();
  t.equal(r.acks.length, 1, 'once');
  t.equal(r.fc.setCalls.length, 0, 'nothing re-applied');
});

t.test('close: a deferred config is dropped without an ack; an apply past the grace period is aborted on injected time', async (t) => {
  const r = rig();
  r.fc.setArmed(true);
  r.pipeline.submit(raw(config(1, { apply: { when: 'disarmed' } })));
  await settle();
  await r.pipeline.close(1000);
  t.equal(r.acks.length, 1, 'only the deferred ack');
  await t.rejects(r.pipeline.exclusive('late', async () => undefined), /closed/, 'a task after close settles');

  const s = rig();
  s.fc.onSet = (_l, opts, call) => (call === 1 ? new Promise((_res, rej) => opts.signal!.addEventListener('abort', () => rej(new AimError('AIM_ERR_ABORTED', 'shutdown')))) : undefined);
  s.pipeline.submit(raw(config(1)));
  await settle();
  const closing = s.pipeline.close(5000);
  await settle();
  s.time.advance(5000);
  await closing;
  t.match(s.last(), { status: 'failed', stage: 'push', code: 'AIM_ERR_ABORTED', rolledBack: true });
});

t.test('exclusive tasks run between applies', async (t) => {
  const r = rig();
  const order: string[] = [];
  r.pipeline.on('ack', (a) => order.push(`ack ${a.version}`));
  r.pipeline.submit(raw(config(1)));
  const task = r.pipeline.exclusive('task', async () => void order.push('task'));
  await task;
  await r.pipeline.idle();
  // The job is taken one turn after submit (a burst lets a newer desired in first), so a task queued in
  // the same turn goes first: tasks go before queued configs, never alongside an apply.
  t.same(order, ['task', 'ack 1']);
  r.pipeline.submit(raw(config(2)));
  await r.pipeline.exclusive('warm-up', async () => undefined);
  const during = r.pipeline.exclusive('after', async () => void order.push(`task after ${r.pipeline.state}`));
  await during;
  await r.pipeline.idle();
  t.same(order.slice(2), ['ack 2', 'task after idle'], 'a task asked for during an apply runs after it');
  await t.rejects(r.pipeline.exclusive('bad', async () => Promise.reject(new Error('x'))), /x/);
});
