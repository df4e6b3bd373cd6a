import { connect } from 'node:net';
import type { LinkSpec } from './link-string.js';
import type { Transport, TransportHandlers } from './transport.js';

type TcpSpec = Extract<LinkSpec, { kind: 'tcp' }>;

/** Give up on a connect that gets no answer at all (a host that is off drops SYNs for minutes). */
const CONNECT_TIMEOUT_MS = 5000;

/** A TCP client (ArduPilot SITL serves MAVLink on 5760; esp-link and mavlink-router serve TCP too). */
export function openTcp(spec: TcpSpec, handlers: TransportHandlers, signal?: AbortSignal): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: spec.host, port: spec.port });
    let connected = false;
    let closedByUs = false;
    let lastError: Error | undefined;
    const giveUp = (err: Error) => {
      if (connected) return;
      sock.destroy();
      reject(err);
    };
    const timer = setTimeout(() => giveUp(new Error(`tcp ${spec.host}:${spec.port}: no answer to connect in ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    const onAbort = () => giveUp(new Error('link closed while connecting'));
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('close', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
    sock.on('error', (err) => {
      lastError = err;
      if (!connected) reject(err);
    });
    sock.on('close', () => {
      if (!connected) return;
      handlers.onClose(closedByUs ? undefined : (lastError ?? new Error(`tcp ${spec.host}:${spec.port}: peer closed`)));
    });
    sock.on('data', (chunk: Buffer) => handlers.onData(chunk));
    sock.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Small frames, latency-sensitive request/response: no Nagle.
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 5000);
      resolve({
        write(buf) {
          if (sock.destroyed || !sock.writable) return false;
          sock.write(buf);
          return true;
        },
        close() {
          closedByUs = true;
          return new Promise<void>((done) => {
            if (sock.destroyed) {
              done();
              return;
            }
            sock.once('close', () => done());
            sock.destroy();
          });
        },
        describe: () => `tcp ${spec.host}:${spec.port}`,
      });
    });
  });
}
