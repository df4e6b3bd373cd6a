import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { SimPeer, SimTransport, TransportHooks } from './transport.js';

/** Listens like ArduPilot's `udpin`: every source address that sends a datagram becomes a peer. */
export class UdpTransport implements SimTransport {
  private readonly host: string;
  private port: number;
  private readonly hooks: TransportHooks;
  private readonly logger: Logger;
  private socket: Socket | undefined;
  private readonly peers = new Map<string, SimPeer>();

  constructor(spec: { host: string; port: number }, hooks: TransportHooks, logger: Logger) {
    this.host = spec.host;
    this.port = spec.port;
    this.hooks = hooks;
    this.logger = logger;
  }

  get link(): string {
    return `udp:${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const socket = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.logger.error({ err }, 'fc-sim udp socket error'));
    socket.on('message', (bytes, rinfo) => {
      const id = `udp:${rinfo.address}:${rinfo.port}`;
      let peer = this.peers.get(id);
      if (peer === undefined) {
        peer = {
          id,
          write: (out) => socket.send(out, rinfo.port, rinfo.address),
          close: () => {},
        };
        this.peers.set(id, peer);
        this.hooks.onOpen(peer);
      }
      this.hooks.onData(peer, bytes);
    });
    this.port = socket.address().port;
    this.socket = socket;
  }

  async suspend(): Promise<void> {}

  async resume(): Promise<void> {}

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    for (const peer of this.peers.values()) this.hooks.onClose(peer);
    this.peers.clear();
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
