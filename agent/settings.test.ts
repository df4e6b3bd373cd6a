import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR, loadSettings, parseSettings } from './settings.js';

const minimal = { droneId: 'drone-07', broker: { url: 'mqtt://127.0.0.1:1883' }, fc: { link: 'serial:/dev/serial0:921600' } };

t.test('the three required fields are enough: everything else gets its DESIGN.md default', async (t) => {
  const r = parseSettings(minimal);
  if (!r.ok) return t.fail(JSON.stringify(r.errors));
  const s = r.settings;
  t.same(s.broker, { url: 'mqtt://127.0.0.1:1883', protocolVersion: 5, topicPrefix: 'aim', sessionExpiryS: 86400, keepaliveS: 30, connectTimeoutMs: 10000 });
  t.same(s.fc, { link: 'serial:/dev/serial0:921600', paramTimeoutMs: 1000, paramRetries: 3 }, 'acceptUnsigned unset: with a signing key, unsigned frames are refused');
  t.same(s.security, { requireSignature: true, trustedKeys: [] });
  t.same(s.lock, { ttlS: 10, sweepS: 2, acquireTimeoutS: 30 });
  t.same(s.apply, { shutdownTimeoutS: 20, aimTimeoutMs: 3000 }, 'the whole stop, 10 s under the unit\'s TimeoutStopSec');
  t.equal(s.stateDir, DEFAULT_STATE_DIR);
  t.equal(s.logLevel, 'info');
  const partial = parseSettings({ ...minimal, lock: { ttlS: 5 }, security: { trustedKeys: ['/etc/aim-agent/k.pem'] } });
  t.ok(partial.ok && partial.settings.lock.sweepS === 2 && partial.settings.security.requireSignature, 'defaults fill in inside a partly given section');
});

t.test('every bad field is reported at once, each as path: message in the operator’s words', async (t) => {
  const r = parseSettings({
    droneId: 'drone 7',
    broker: { url: 'http://broker', protocolVersion: 3, keepaliveS: 1.5, topicPrefix: 'aim/#' },
    fc: { link: 'com3', paramRetries: -1 },
    lock: { ttlS: 'ten' },
    logLevel: 'loud',
    colour: 'red',
  });
  t.notOk(r.ok);
  const byPath = Object.fromEntries((r.ok ? [] : r.errors).map((e) => [e.path, e.message]));
  t.same(byPath, {
    droneId: 'must be 1-64 characters of A-Z, a-z, 0-9, _ and -',
    'broker.url': 'must be an mqtt://, mqtts://, ws:// or wss:// URL',
    'broker.protocolVersion': 'must be 5 or 4 (got 3)',
    'broker.keepaliveS': 'must be an integer (got 1.5)',
    'broker.topicPrefix': 'must be a valid MQTT topic prefix without wildcards',
    'fc.link': 'must be serial:/dev/X:BAUD, tcp:HOST:PORT, udp:HOST:PORT or udpout:HOST:PORT',
    'fc.paramRetries': 'must be at least 0 (got -1)',
    'lock.ttlS': 'must be a number (got "ten")',
    logLevel: 'must be "fatal" or "error" or "warn" or "info" or "debug" or "trace" or "silent" (got "loud")',
    colour: 'unknown field',
  });
  const missing = parseSettings({});
  t.same(missing.ok ? [] : missing.errors.map((e) => `${e.path}: ${e.message}`), ['droneId: is required', 'broker: is required', 'fc: is required']);
});

t.test('loadSettings: unreadable, not JSON, invalid → AIM_ERR_SETTINGS naming the file and each path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-settings-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadSettings(join(dir, 'none.json')), { code: 'AIM_ERR_SETTINGS', message: /none\.json: no such file/ });
  writeFileSync(join(dir, 'dup.json'), '{"droneId":"a","droneId":"b"}');
  t.throws(() => loadSettings(join(dir, 'dup.json')), { code: 'AIM_ERR_SETTINGS', message: /dup\.json: invalid settings\n.*droneId.*duplicate/i });
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...minimal, fc: { link: 'tcp:h:1', paramTimeoutMs: 10 } }));
  t.throws(() => loadSettings(join(dir, 'bad.json')), { code: 'AIM_ERR_SETTINGS', message: /bad\.json: invalid settings\nfc\.paramTimeoutMs: must be at least 50 \(got 10\)$/ });
  writeFileSync(join(dir, 'ok.json'), JSON.stringify(minimal));
  t.equal(loadSettings(join(dir, 'ok.json')).droneId, 'drone-07');
});
