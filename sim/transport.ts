import type { Logger } from 'pino';
import type { SimLinkSpec } from './link-spec.js';
import { SerialTransport } from './transport-serial.js';
import { TcpTransport } from './transport-tcp.js';
import { UdpTransport } from './transport-udp.js';

/** One ground peer: a TCP client, a UDP source address, or the serial line. */
export interface SimPeer {
  readonly id: string;
  write(bytes: Buffer): void;
  /** Drop the connection (TCP); UDP and serial peers have nothing to drop. */
  close(): void;
}

export interface TransportHooks {
  onOpen(peer: SimPeer): void;
  onData(peer: SimPeer, bytes: Buffer): void;
  onClose(peer: SimPeer): void;
}

/** How fc-sim reaches its ground peers. One file per transport, picked from the link kind. */
export interface SimTransport {
  /** The link string peers should use, with the port resolved. */
  readonly link: string;
  start(): Promise<void>;
  /** An FC reboot: TCP drops every peer and stops listening; UDP and serial stay as they are. */
  suspend(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export function createTransport(spec: SimLinkSpec, hooks: TransportHooks, logger: Logger): SimTransport {
  switch (spec.kind) {
    case 'tcp':
      return new TcpTransport(spec, hooks, logger);
    case 'udp':
      return new UdpTransport(spec, hooks, logger);
    case 'serial':
      return new SerialTransport(spec, hooks, logger);
  }
}
