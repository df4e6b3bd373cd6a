import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { LinkSpec } from './link-string.js';
import type { Transport, TransportHandlers } from './transport.js';

type UdpSpec = Extract<LinkSpec, { kind: 'udp' }>;

/**
 * UDP listen (`udp:0.0.0.0:14550`): bind, and send to whoever sent to us last, as MAVProxy's udpin does.
 * Until the flight controller has sent something there is no one to talk to and writes are refused.
 */
export function openUdp(spec: UdpSpec, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(spec.host) ? 'udp6' : 'udp4', reuseAddr: false });
    let bound = false;
    let closedByUs = false;
    let peer: RemoteInfo | undefined;
    sock.on('error', (err) => {
      if (!bound) {
        sock.close();
        reject(err);
        return;
      }
      if (!closedByUs) {
        closedByUs = true;
        sock.close();
        handlers.onClose(err);
      }
    });
    sock.on('message', (msg, rinfo) => {
      peer = rinfo;
      handlers.onData(msg);
    });
    sock.bind(spec.port, spec.host, () => {
      bound = true;
      resolve({
        write(buf) {
          if (peer === undefined || closedByUs) return false;
          sock.send(buf, peer.port, peer.address);
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
        describe: () => `udp listen ${spec.host}:${spec.port}${peer ? ` peer ${peer.address}:${peer.port}` : ''}`,
      });
    });
  });
}
