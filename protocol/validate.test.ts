import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseAimConfig, validateAimConfig } from './validate.js';

const full = JSON.parse(readFileSync(new URL('./examples/full.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const base = { kind: 'aim-config', schemaVersion: 1, version: 5, id: 'x', issuedAt: '2026-11-26T13:00:00Z' };
type Doc = Record<string, unknown>;
const clone = (d: Doc): Doc => JSON.parse(JSON.stringify(d)) as Doc;
const withFull = (f: (d: Doc) => void): Doc => {
  const d = clone(full);
  f(d);
  return d;
};
const mount = (d: Doc) => d.mount as Doc;

const VALID: [string, Doc][] = [
  ['the full example', full],
  ['the minimal document', base],
  ['apply disarmed with a deadline', { ...base, apply: { when: 'disarmed', deadlineSec: 600 } }],
  ['a dry run', { ...base, apply: { when: 'immediate', dryRun: true } }],
  ['an ROI aim', { ...base, aim: { roi: { latDeg: -33.9, lonDeg: 151.2, altM: 20 } } }],
  ['earth-frame yaw outside vehicle limits', { ...base, mount: { yaw: { minDeg: -10, maxDeg: 10 } }, aim: { pitchDeg: 0, yawDeg: 90, yawFrame: 'earth' } }],
  ['aim on gimbal 1', { ...base, aim: { pitchDeg: -10, yawDeg: 0, gimbalId: 1 } }],
  ['every default mode', { ...base, mount: { defaultMode: 'home-location' } }],
  ['limits at ArduPilot range edges', { ...base, mount: { pitch: { minDeg: -90, maxDeg: 90 }, roll: { minDeg: -180, maxDeg: 180 }, yaw: { minDeg: -180, maxDeg: 180 } } }],
  ['timestamps with offsets and fractions', { ...base, issuedAt: '2026-11-26T13:00:00.123+02:00', expiresAt: '2026-11-26T13:00:01-01:00' }],
  ['targets', { ...base, targets: ['drone-07', 'drone_8', 'A'] }],
  ['raw unknown params', { ...base, params: { SERVO9_FUNCTION: 7, CAM1_TYPE: 1, X: -1.5 } }],
  ['rcRate 0 and neutral/retract', { ...base, mount: { rcRateDegS: 0, neutral: { rollDeg: 1.5, pitchDeg: -2, yawDeg: 180 }, retract: { rollDeg: 0, pitchDeg: -90, yawDeg: -180 } } }],
  ['version at the top of its range', { ...base, version: Number.MAX_SAFE_INTEGER }],
];

t.test('valid documents', async (t) => {
  for (const [name, doc] of VALID) {
    const r = validateAimConfig(doc);
    t.ok(r.ok, name + (r.ok ? '' : ': ' + JSON.stringify(r.errors)));
  }
});

// [name, document, the path that must be reported]
const INVALID: [string, unknown, string][] = [
  ['not an object', [], '$'],
  ['null', null, '$'],
  ['wrong kind', { ...base, kind: 'other' }, 'kind'],
  ['missing kind', { ...base, kind: undefined }, 'kind'],
  ['schemaVersion 2', { ...base, schemaVersion: 2 }, 'schemaVersion'],
  ['version 0', { ...base, version: 0 }, 'version'],
  ['version fractional', { ...base, version: 1.5 }, 'version'],
  ['version string', { ...base, version: '5' }, 'version'],
  ['version above 2^53-1', { ...base, version: 2 ** 53 }, 'version'],
  ['negative version', { ...base, version: -3 }, 'version'],
  ['empty id', { ...base, id: '' }, 'id'],
  ['missing id', { ...base, id: undefined }, 'id'],
  ['issuedAt not RFC 3339', { ...base, issuedAt: '26/11/2026' }, 'issuedAt'],
  ['issuedAt without zone', { ...base, issuedAt: '2026-11-26T13:00:00' }, 'issuedAt'],
  ['issuedAt impossible date', { ...base, issuedAt: '2026-13-45T13:00:00Z' }, 'issuedAt'],
  ['expiresAt before issuedAt', { ...base, expiresAt: '2026-11-26T12:00:00Z' }, 'expiresAt'],
  ['expiresAt equals issuedAt', { ...base, expiresAt: base.issuedAt }, 'expiresAt'],
  ['unknown top-level field', { ...base, colour: 'red' }, 'colour'],
  ['apply.when unknown', { ...base, apply: { when: 'later' } }, 'apply.when'],
  ['apply missing when', { ...base, apply: { dryRun: true } }, 'apply.when'],
  ['deadline with immediate', { ...base, apply: { when: 'immediate', deadlineSec: 10 } }, 'apply.deadlineSec'],
  ['deadline zero', { ...base, apply: { when: 'disarmed', deadlineSec: 0 } }, 'apply.deadlineSec'],
  ['dryRun not boolean', { ...base, apply: { when: 'immediate', dryRun: 'yes' } }, 'apply.dryRun'],
  ['unknown apply field', { ...base, apply: { when: 'immediate', force: true } }, 'apply.force'],
  ['pitch min above max', withFull((d) => (mount(d).pitch = { minDeg: 30, maxDeg: 20 })), 'mount.pitch.minDeg'],
  ['pitch min equals max', withFull((d) => (mount(d).pitch = { minDeg: 0, maxDeg: 0 })), 'mount.pitch.minDeg'],
  ['yaw min above max', withFull((d) => (mount(d).yaw = { minDeg: 10, maxDeg: -10 })), 'mount.yaw.minDeg'],
  ['roll min above max', withFull((d) => (mount(d).roll = { minDeg: 10, maxDeg: -10 })), 'mount.roll.minDeg'],
  ['pitch max past ArduPilot range', withFull((d) => (mount(d).pitch = { minDeg: -90, maxDeg: 120 })), 'mount.pitch.maxDeg'],
  ['pitch min past ArduPilot range', withFull((d) => (mount(d).pitch = { minDeg: -500, maxDeg: 0 })), 'mount.pitch.minDeg'],
  ['yaw past range', withFull((d) => (mount(d).yaw = { minDeg: -190, maxDeg: 0 })), 'mount.yaw.minDeg'],
  ['roll past range', withFull((d) => (mount(d).roll = { minDeg: -10, maxDeg: 181 })), 'mount.roll.maxDeg'],
  ['missing maxDeg', withFull((d) => (mount(d).pitch = { minDeg: -10 })), 'mount.pitch.maxDeg'],
  ['rcRate above 90', withFull((d) => (mount(d).rcRateDegS = 91)), 'mount.rcRateDegS'],
  ['rcRate fractional', withFull((d) => (mount(d).rcRateDegS = 1.5)), 'mount.rcRateDegS'],
  ['rcRate negative', withFull((d) => (mount(d).rcRateDegS = -1)), 'mount.rcRateDegS'],
  ['unknown default mode', withFull((d) => (mount(d).defaultMode = 'stabilize')), 'mount.defaultMode'],
  ['neutral missing yaw', withFull((d) => (mount(d).neutral = { rollDeg: 0, pitchDeg: 0 })), 'mount.neutral.yawDeg'],
  ['retract out of range', withFull((d) => (mount(d).retract = { rollDeg: 0, pitchDeg: -200, yawDeg: 0 })), 'mount.retract.pitchDeg'],
  ['unknown mount field', withFull((d) => (mount(d).ptich = { minDeg: 0, maxDeg: 1 })), 'mount.ptich'],
  ['aim pitch below limits', withFull((d) => (d.aim = { pitchDeg: -89, yawDeg: 0 }) && (mount(d).pitch = { minDeg: -60, maxDeg: 0 })), 'aim.pitchDeg'],
  ['aim yaw outside vehicle-frame limits', withFull((d) => (mount(d).yaw = { minDeg: -5, maxDeg: 5 })), 'aim.yawDeg'],
  ['aim pitch beyond 90', { ...base, aim: { pitchDeg: 120, yawDeg: 0 } }, 'aim.pitchDeg'],
  ['aim with unknown frame', { ...base, aim: { pitchDeg: 0, yawDeg: 0, yawFrame: 'body' } }, 'aim.yawFrame'],
  ['aim that is neither form', { ...base, aim: { tilt: 5 } }, 'aim.tilt'],
  ['roi latitude out of range', { ...base, aim: { roi: { latDeg: 91, lonDeg: 0, altM: 0 } } }, 'aim.roi.latDeg'],
  ['roi missing alt', { ...base, aim: { roi: { latDeg: 1, lonDeg: 0 } } }, 'aim.roi.altM'],
  ['lower-case param name', { ...base, params: { mnt1_lead_ptch: 0.1 } }, 'params.mnt1_lead_ptch'],
  ['param name too long', { ...base, params: { ABCDEFGHIJKLMNOPQ: 1 } }, 'params.ABCDEFGHIJKLMNOPQ'],
  ['param name with dash', { ...base, params: { 'MNT-1': 1 } }, 'params["MNT-1"]'],
  ['param value string', { ...base, params: { FOO: '1' } }, 'params.FOO'],
  ['param already set by mount', withFull((d) => ((d.params as Doc).MNT1_PITCH_MIN = -10)), 'params.MNT1_PITCH_MIN'],
  ['param out of its ArduPilot range', { ...base, params: { MNT1_LEAD_RLL: 5 } }, 'params.MNT1_LEAD_RLL'],
  ['read-only param', { ...base, params: { MNT1_DEVID: 5 } }, 'params.MNT1_DEVID'],
  ['integer param fractional', { ...base, params: { MNT1_OPTIONS: 1.5 } }, 'params.MNT1_OPTIONS'],
  ['targets empty', { ...base, targets: [] }, 'targets'],
  ['target with slash', { ...base, targets: ['a/b'] }, 'targets[0]'],
  ['NaN (from a JS caller)', { ...base, params: { FOO: NaN } }, 'params.FOO'],
  ['Infinity (from a JS caller)', withFull((d) => (mount(d).pitch = { minDeg: -Infinity, maxDeg: 0 })), 'mount.pitch.minDeg'],
];

t.test(`${INVALID.length} invalid documents report the right path`, async (t) => {
  t.ok(INVALID.length >= 40);
  for (const [name, doc, path] of INVALID) {
    const r = validateAimConfig(doc);
    if (r.ok) {
      t.fail(`${name}: accepted`);
      continue;
    }
    t.ok(
      r.errors.some((e) => e.path === path),
      `${name}: reports ${path} (got ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})`,
    );
    t.ok(r.errors.every((e) => e.message.length > 0 && !/undefined/.test(e.message)), `${name}: readable messages`);
  }
});

t.test('all errors are reported at once', async (t) => {
  const r = validateAimConfig({ ...base, version: 0, colour: 1, mount: { pitch: { minDeg: 5, maxDeg: 1 } }, params: { MNT1_LEAD_RLL: 9, bad: 1 } });
  t.notOk(r.ok);
  if (!r.ok) t.same(new Set(r.errors.map((e) => e.path)), new Set(['version', 'colour', 'mount.pitch.minDeg', 'params.MNT1_LEAD_RLL', 'params.bad']));
});

t.test('the operator message names both values', async (t) => {
  const r = parseAimConfig(readFileSync(new URL('./examples/invalid/pitch-min-above-max.json', import.meta.url)));
  t.same(r.ok ? [] : r.errors, [{ path: 'mount.pitch.minDeg', message: 'must be less than mount.pitch.maxDeg (30 >= 20)' }]);
});

t.test('sha256 ignores key order and whitespace', async (t) => {
  const a = validateAimConfig(full);
  const reordered = Object.fromEntries(Object.entries(full).reverse());
  const b = parseAimConfig(JSON.stringify(reordered, null, 7));
  t.ok(a.ok && b.ok);
  if (a.ok && b.ok) t.equal(a.sha256, b.sha256);
  const c = validateAimConfig({ ...full, id: 'other' });
  if (a.ok && c.ok) t.not(a.sha256, c.sha256);
});
