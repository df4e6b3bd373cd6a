import { randomBytes } from 'node:crypto';
import t from 'tap';
import { MavLinkPacketSignature, minimal } from 'node-mavlink';
import { FrameDecoder, FrameEncoder, zeroCounters, type Frame } from './framing.js';
import { Signing } from './signing.js';

const heartbeat = () => {
  const hb = new minimal.Heartbeat();
  hb.type = 18;
  hb.autopilot = 8;
  hb.mavlinkVersion = 3;
  return hb;
};

function pipe(sign?: Signing, check?: Signing) {
  const counters = zeroCounters();
  const frames: Frame[] = [];
  const enc = new FrameEncoder({ systemId: () => 7, componentId: 191 }, sign);
  const dec = new FrameDecoder(counters, (f) => frames.push(f), check);
  return { enc, dec, counters, frames };
}

const settle = () => new Promise((r) => setImmediate(r));

t.test('frames: MAVLink 2, our own sequence counter, CRC errors and gaps counted', async (t) => {
  const { enc, dec, counters, frames } = pipe();
  const a = enc.encode(heartbeat());
  const b = enc.encode(heartbeat());
  const c = enc.encode(heartbeat());
  t.equal(a[0], 0xfd, 'MAVLink 2 start byte');
  t.same([a[4], b[4], c[4]], [0, 1, 2], 'per-link sequence');
  const bad = Buffer.from(b);
  bad[12] = (bad[12] ?? 0) ^ 0xff;
  dec.push(Buffer.concat([a, bad, c]));
  await settle();
  t.equal(frames.length, 2);
  t.same(frames.map((f) => [f.sysid, f.compid, f.seq]), [[7, 191, 0], [7, 191, 2]]);
  t.ok(counters.crcErrors >= 1, 'the corrupted frame was a CRC error');
  t.equal(counters.seqGaps, 1, 'and a gap in the sequence');
  t.equal(frames[0]?.decode(minimal.Heartbeat).type, 18);
  dec.destroy();
});

t.test('signing: node-mavlink agrees with our signatures; replays and wrong keys are dropped', async (t) => {
  const key = randomBytes(32);
  let now = Date.UTC(2026, 10, 26);
  const signer = new Signing({ key, now: () => now });
  const checker = new Signing({ key, now: () => now });
  const { enc, dec, counters, frames } = pipe(signer, checker);
  const f1 = enc.encode(heartbeat());
  t.equal((f1[2] ?? 0) & 1, 1, 'SIGNED incompat flag');
  t.ok(new MavLinkPacketSignature(f1).matches(key), 'node-mavlink verifies it');
  const f2 = enc.encode(heartbeat());
  t.ok(f2.readUIntLE(f2.length - 12, 6) > f1.readUIntLE(f1.length - 12, 6), 'timestamps strictly increase within one millisecond');
  dec.push(f1);
  dec.push(f2);
  dec.push(f1); // replayed
  await settle();
  t.equal(frames.length, 2);
  t.equal(counters.badSignatures, 1, 'the replay is refused');

  const other = pipe(new Signing({ key: randomBytes(32), now: () => now }), new Signing({ key, now: () => now }));
  other.dec.push(other.enc.encode(heartbeat()));
  await settle();
  t.equal(other.frames.length, 0);
  t.equal(other.counters.badSignatures, 1, 'wrong key');

  const unsigned = pipe(undefined, new Signing({ key }));
  unsigned.dec.push(unsigned.enc.encode(heartbeat()));
  const lenient = pipe(undefined, new Signing({ key, acceptUnsigned: true }));
  lenient.dec.push(lenient.enc.encode(heartbeat()));
  await settle();
  t.equal(unsigned.frames.length, 0);
  t.equal(unsigned.counters.unsignedDropped, 1);
  t.equal(lenient.frames.length, 1, 'acceptUnsigned lets them in');

  now += 120_000;
  const stale = pipe(new Signing({ key, now: () => now - 120_000 }), new Signing({ key, now: () => now }));
  stale.dec.push(stale.enc.encode(heartbeat()));
  await settle();
  t.equal(stale.counters.badSignatures, 1, 'a new stream more than a minute old is a replay');
  t.throws(() => new Signing({ key: Buffer.alloc(16) }), { code: 'AIM_ERR_SETTINGS' });
  for (const p of [other, unsigned, lenient, stale]) p.dec.destroy();
  dec.destroy();
});
