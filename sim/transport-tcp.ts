import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SimPeer, SimTransport, TransportHooks } from './transport.js';

/** Listens like ArduPilot SITL's TCP port; every client is its own MAVLink channel. */
export class TcpTransport implements SimTransport {
  private readonly host: string;
  private port: number;
  private readonly hooks: TransportHooks;
  private readonly logger: Logger;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(spec: { host: string; port: number }, hooks: TransportHooks, logger: Logger) {
    this.host = spec.host;
    this.port = spec.port;
    this.hooks = hooks;
    this.logger = logger;
  }

  get link(): string {
    return `tcp:${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err }, 'fc-sim tcp server error'));
    const addr = server.address();
    if (typeof addr === 'object' && addr !== null) this.port = addr.port;
    this.server = server;
  }

  async suspend(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const gone = [...this.sockets].map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : (s.once('close', () => resolve()), s.destroySoon()))));
    await Promise.all([closed, ...gone]);
  }

  resume(): Promise<void> {
    return this.start();
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return this.suspend();
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const peer: SimPeer = {
      id: `tcp:${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
      write: (bytes) => {
        if (!socket.destroyed && socket.writable) socket.write(bytes);
      },
      close: () => socket.destroySoon(),
    };
    socket.on('data', (bytes: Buffer) => this.hooks.onData(peer, bytes));
    socket.on('error', (err) => this.logger.debug({ err, peer: peer.id }, 'fc-sim tcp peer error'));
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.hooks.onClose(peer);
    });
    this.hooks.onOpen(peer);
  }
}
