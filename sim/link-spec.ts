/** Where fc-sim serves MAVLink, parsed from the link strings operators know from MAVProxy. */
export type SimLinkSpec =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'udp'; host: string; port: number }
  | { kind: 'serial'; path: string; baud: number };

/**
 * Parse `tcp:HOST:PORT` (listen; port 0 picks one), `udp:HOST:PORT` (listen) or `serial:DEVICE:BAUD`.
 * Throws RangeError with a message fit for a usage line.
 */
export function parseSimLink(link: string): SimLinkSpec {
  const colon = link.indexOf(':');
  const kind = colon < 0 ? link : link.slice(0, colon);
  const rest = colon < 0 ? '' : link.slice(colon + 1);
  const last = rest.lastIndexOf(':');
  const head = last < 0 ? rest : rest.slice(0, last);
  const tail = last < 0 ? '' : rest.slice(last + 1);
  switch (kind) {
    case 'tcp':
    case 'udp': {
      const port = Number(tail);
      if (head === '' || !/^\d+$/.test(tail) || port > 65535) throw new RangeError(`bad ${kind} link '${link}': want ${kind}:HOST:PORT`);
      return { kind, host: head, port };
    }
    case 'serial': {
      const baud = Number(tail);
      if (head === '' || !/^\d+$/.test(tail) || baud <= 0) throw new RangeError(`bad serial link '${link}': want serial:DEVICE:BAUD`);
      return { kind, path: head, baud };
    }
    default:
      throw new RangeError(`bad link '${link}': want tcp:HOST:PORT, udp:HOST:PORT or serial:DEVICE:BAUD`);
  }
}

export function formatSimLink(spec: SimLinkSpec): string {
  return spec.kind === 'serial' ? `serial:${spec.path}:${spec.baud}` : `${spec.kind}:${spec.host}:${spec.port}`;
}
