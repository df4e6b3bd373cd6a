import { AimError } from '../../protocol/errors.js';

/** A parsed link string. `udp` listens on host:port and answers whoever sent last; `udpout` sends to host:port. */
export type LinkSpec =
  | { kind: 'serial'; path: string; baudRate: number }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'udp'; host: string; port: number }
  | { kind: 'udpout'; host: string; port: number };

export type LinkKind = LinkSpec['kind'];

const BAUD_RATES = new Set([
  1200, 2400, 4800, 9600, 19200, 38400, 57600, 100000, 111100, 115200, 230400, 256000, 460800, 500000, 921600, 1000000,
  1500000, 2000000,
]);

/**
 * Parse a MAVProxy / mavlink-router style link string.
 * @example parseLinkString('serial:/dev/ttyAMA0:921600') // { kind: 'serial', path: '/dev/ttyAMA0', baudRate: 921600 }
 * @example parseLinkString('tcp:127.0.0.1:5760')        // { kind: 'tcp', host: '127.0.0.1', port: 5760 }
 */
export function parseLinkString(s: string): LinkSpec {
  const bad = (why: string) => new AimError('AIM_ERR_USAGE', `bad FC link "${s}": ${why}`, { details: { link: s } });
  const colon = s.indexOf(':');
  if (colon < 0) throw bad('expected serial:/dev/X:BAUD, tcp:HOST:PORT, udp:HOST:PORT or udpout:HOST:PORT');
  const kind = s.slice(0, colon);
  const rest = s.slice(colon + 1);
  const last = rest.lastIndexOf(':');
  if (last <= 0) throw bad('missing address or port/baud');
  const head = rest.slice(0, last);
  const num = rest.slice(last + 1);
  if (!/^\d+$/.test(num)) throw bad(`"${num}" is not a number`);
  const n = Number(num);
  switch (kind) {
    case 'serial':
      if (!head.startsWith('/')) throw bad('serial device must be an absolute path');
      if (!BAUD_RATES.has(n)) throw bad(`unsupported baud rate ${n}`);
      return { kind, path: head, baudRate: n };
    case 'tcp':
    case 'udp':
    case 'udpout': {
      // [::1]:5760 style IPv6 literals are accepted without the brackets' help from URL parsing.
      const host = head.startsWith('[') && head.endsWith(']') ? head.slice(1, -1) : head;
      if (host.length === 0 || /\s/.test(host)) throw bad('missing host');
      if (n < 1 || n > 65535) throw bad(`port ${n} out of range`);
      if (kind === 'udpout' && n === 0) throw bad('udpout needs a port');
      return { kind, host, port: n };
    }
    default:
      throw bad(`unknown link kind "${kind}"`);
  }
}

/** The canonical string of a spec (what logs and `status.link` show). */
export function formatLinkString(spec: LinkSpec): string {
  if (spec.kind === 'serial') return `serial:${spec.path}:${spec.baudRate}`;
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.kind}:${host}:${spec.port}`;
}
