import t from 'tap';
import { nextDelay } from '../backoff.js';
import { formatLinkString, parseLinkString } from './link-string.js';

t.test('the four link kinds operators know from MAVProxy / mavlink-router', async (t) => {
  t.same(parseLinkString('serial:/dev/ttyAMA0:921600'), { kind: 'serial', path: '/dev/ttyAMA0', baudRate: 921600 });
  t.same(parseLinkString('serial:/dev/serial/by-id/usb-ArduPilot_fmuv3:57600'), { kind: 'serial', path: '/dev/serial/by-id/usb-ArduPilot_fmuv3', baudRate: 57600 });
  t.same(parseLinkString('tcp:127.0.0.1:5760'), { kind: 'tcp', host: '127.0.0.1', port: 5760 });
  t.same(parseLinkString('udp:0.0.0.0:14550'), { kind: 'udp', host: '0.0.0.0', port: 14550 });
  t.same(parseLinkString('udpout:10.0.0.2:14550'), { kind: 'udpout', host: '10.0.0.2', port: 14550 });
  t.same(parseLinkString('tcp:[::1]:5760'), { kind: 'tcp', host: '::1', port: 5760 });
  for (const s of ['serial:/dev/ttyAMA0:921600', 'tcp:127.0.0.1:5760', 'udp:0.0.0.0:14550', 'udpout:10.0.0.2:14550', 'tcp:[::1]:5760']) {
    t.equal(formatLinkString(parseLinkString(s)), s, `${s} round-trips`);
  }
});

t.test('bad link strings are usage errors that say why', async (t) => {
  for (const [s, why] of [
    ['ttyAMA0', /expected serial/],
    ['serial:ttyAMA0:57600', /absolute path/],
    ['serial:/dev/ttyAMA0:12345', /baud/],
    ['serial:/dev/ttyAMA0', /missing address|not a number/],
    ['tcp:127.0.0.1:99999', /out of range/],
    ['tcp::5760', /missing/],
    ['tcp:127.0.0.1:abc', /not a number/],
    ['ws:127.0.0.1:80', /unknown link kind/],
  ] as const) {
    t.throws(() => parseLinkString(s), { code: 'AIM_ERR_USAGE', message: why }, s);
  }
});

t.test('reconnect backoff doubles from min to max with jitter', async (t) => {
  const opts = { minMs: 100, maxMs: 1000 };
  const mid = () => 0.5;
  t.equal(nextDelay(undefined, opts, mid), 100);
  t.equal(nextDelay(100, opts, mid), 200);
  t.equal(nextDelay(800, opts, mid), 1000);
  t.equal(nextDelay(1000, opts, () => 1), 1000, 'never above max');
  t.equal(nextDelay(undefined, opts, () => 0), 80, 'jitter: −20 %');
});
