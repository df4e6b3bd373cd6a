import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { LinkSpec } from './link-string.js';
import type { Transport, TransportHandlers } from './transport.js';

type UdpOutSpec = Extract<LinkSpec, { kind: 'udpout' }>;

/**
 * UDP to a fixed peer (`udpout:10.0.0.2:14550`): connect() the socket so only that peer's datagrams
 * arrive. Our 1 Hz HEARTBEAT is what lets the far end (mavlink-router, the FC) learn where we are.
 */
export function openUdpOut(spec: UdpOutSpec, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(spec.host) ? 'udp6' : 'udp4' });
    let connected = false;
    let closedByUs = false;
    sock.on('error', (err) => {
      if (!connected) {
        sock.close();
        reject(err);
        return;
      }
      // ECONNREFUSED from an ICMP port-unreachable is normal while the peer is not up yet: keep going.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return;
      if (!closedByUs) {
        closedByUs = true;
        sock.close();
        handlers.onClose(err);
      }
    });
    sock.on('message', (msg) => handlers.onData(msg));
    sock.connect(spec.port, spec.host, () => {
      connected = true;
      resolve({
        write(buf) {
          if (closedByUs) return false;
          sock.send(buf);
          return true;
        },
        close() {
          if (closedByUs) return Promise.resolve();
          closedByUs = true;
          return new Promise<void>((done) =>
            sock.close(() => {
              handlers.onClose();
              done();
            }),
          );
        },
        describe: () => `udpout ${spec.host}:${spec.port}`,
      });
    });
  });
}
