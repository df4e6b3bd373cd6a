import t from 'tap';
import { FrameEncoder } from './framing.js';
import { FrameSplitter, type SkipKind } from './frame-splitter.js';
import { Heartbeat, ParamValue } from './messages.js';

const enc = new FrameEncoder({ systemId: () => 1, componentId: 1 });

function heartbeat(): Buffer {
  const hb = new Heartbeat();
  hb.type = 2;
  hb.autopilot = 3;
  hb.mavlinkVersion = 3;
  return enc.encode(hb);
}

function paramValue(name: string, value: number): Buffer {
  const m = new ParamValue();
  m.paramId = name;
  m.paramValue = value;
  m.paramType = 9;
  m.paramCount = 1373;
  m.paramIndex = 65535;
  return enc.encode(m);
}

function split() {
  const frames: Buffer[] = [];
  const skips: SkipKind[] = [];
  const s = new FrameSplitter(
    (raw) => frames.push(raw),
    (why) => skips.push(why),
  );
  return { s, frames, skips };
}

t.test('whole frames in one chunk and split at every byte come out the same', async (t) => {
  const stream = Buffer.concat([heartbeat(), paramValue('MNT1_RC_RATE', 40), heartbeat()]);
  const a = split();
  a.s.push(stream);
  t.equal(a.frames.length, 3);
  t.same(a.skips, []);
  const b = split();
  for (const byte of stream) b.s.push(Buffer.from([byte]));
  t.same(b.frames, a.frames, 'byte by byte');
  t.equal(b.s.pending, 0, 'nothing left over');
});

t.test('a corrupted length byte claiming 255 bytes does not hold back the frames behind it', async (t) => {
  const bad = heartbeat();
  bad[1] = 0xff; // claims a 255-byte payload: node-mavlink waits for ~267 bytes before checking it
  const good = [heartbeat(), paramValue('MNT1_PITCH_MIN', -90)];
  const { s, frames, skips } = split();
  s.push(bad);
  t.equal(frames.length, 0, 'on its own it may be the start of a long frame');
  s.push(good[0]!);
  t.equal(frames.length, 1, 'the next whole frame proves the long one false: delivered at once');
  t.same(frames[0], good[0]);
  s.push(good[1]!);
  t.same(frames, good);
  t.same(skips, ['header'], 'the bad start byte was skipped');
  t.equal(s.pending, 0);
});

t.test('garbage between frames, and start bytes inside the garbage, are skipped', async (t) => {
  const garbage = Buffer.from([0x00, 0xfd, 0x09, 0x00, 0xfe, 0x05, 0xfd, 0xfd, 0x42, 0x13, 0x37, 0xfe]);
  const hb = heartbeat();
  const pv = paramValue('MNT1_YAW_MAX', 170);
  const { s, frames } = split();
  s.push(Buffer.concat([garbage, hb, garbage, pv]));
  t.same(frames, [hb, pv]);
});

t.test('a bad CRC drops only the start byte: a frame beginning inside it is still found', async (t) => {
  const inner = heartbeat();
  const outer = paramValue('MNT1_ROLL_MAX', 30);
  // The tail of a broken frame followed straight by a good one: rescanning from the byte after the bad
  // start finds the good frame, where skipping the claimed length would swallow part of it.
  const broken = Buffer.concat([outer.subarray(0, 14), inner]);
  const { s, frames, skips } = split();
  s.push(broken);
  s.push(heartbeat()); // enough bytes for the broken frame's claimed length
  t.equal(frames.length, 2);
  t.same(frames[0], inner);
  t.ok(skips.length >= 1);
});

t.test('a corrupted payload byte is a CRC error and the next frame comes through', async (t) => {
  const pv = paramValue('MNT1_LEAD_RLL', 0.1);
  pv[15] = (pv[15] ?? 0) ^ 0x20;
  const hb = heartbeat();
  const { s, frames, skips } = split();
  s.push(Buffer.concat([pv, hb]));
  t.same(frames, [hb]);
  t.same(skips, ['crc']);
});

t.test('unknown incompatibility flags and unknown message ids are rejected from the header', async (t) => {
  const flags = heartbeat();
  flags[2] = 0x04;
  const { s, frames, skips } = split();
  s.push(flags.subarray(0, 3));
  t.same(skips, ['header'], 'decided on the third byte, before the length is waited for');
  s.push(flags.subarray(3));
  const unknownId = heartbeat();
  unknownId.writeUIntLE(0xabcdef, 7, 3);
  s.push(unknownId);
  const hb = heartbeat();
  s.push(hb);
  t.same(frames, [hb]);
});

t.test('a frame split across chunks waits for its end', async (t) => {
  const pv = paramValue('MNT1_NEUTRAL_X', 1.5);
  const { s, frames } = split();
  s.push(pv.subarray(0, 20));
  t.equal(frames.length, 0);
  t.equal(s.pending, 20);
  s.push(pv.subarray(20));
  t.same(frames, [pv]);
});

t.test('reset forgets a partial frame', async (t) => {
  const pv = paramValue('MNT1_NEUTRAL_Y', 2);
  const { s, frames } = split();
  s.push(pv.subarray(0, 20));
  s.reset();
  s.push(pv.subarray(20));
  const hb = heartbeat();
  s.push(hb);
  t.same(frames, [hb]);
});

t.test('a byte-error rate of 1 %: every frame not hit by an error is delivered', async (t) => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const sent: Buffer[] = [];
  const wire: Buffer[] = [];
  let intact = 0;
  for (let i = 0; i < 2000; i++) {
    const f = i % 3 === 0 ? heartbeat() : paramValue(`P${i}`, i);
    sent.push(f);
    const copy = Buffer.from(f);
    for (let j = 0; j < copy.length; j++) if (rand() < 0.01) copy[j] = Math.floor(rand() * 256);
    if (copy.equals(f)) intact++;
    wire.push(copy);
  }
  const { s, frames } = split();
  const all = Buffer.concat(wire);
  for (let off = 0; off < all.length; off += 7) s.push(all.subarray(off, off + 7));
  const intactHex = new Set(sent.filter((f, i) => wire[i]!.equals(f)).map((f) => f.toString('hex')));
  t.ok(intact < sent.length * 0.9, `the error rate hits frames (${sent.length - intact} of ${sent.length})`);
  t.equal(frames.length, intact, `all ${intact} intact frames came through, and nothing else`);
  t.ok(frames.every((f) => intactHex.has(f.toString('hex'))), 'every frame delivered is one that was sent intact');
});
