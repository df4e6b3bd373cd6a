import type { LinkKind, LinkSpec } from './link-string.js';
import { openSerial } from './transport-serial.js';
import { openTcp } from './transport-tcp.js';
import { openUdp } from './transport-udp.js';
import { openUdpOut } from './transport-udpout.js';

/** What a transport reports back to the link. `onClose` fires once, with the cause when it was not our close(). */
export interface TransportHandlers {
  onData(chunk: Buffer): void;
  onClose(err?: Error): void;
}

/** One open byte pipe to the flight controller. */
export interface Transport {
  /** Queue bytes; false when the transport cannot send right now (UDP listen with no peer yet, closed socket). */
  write(buf: Buffer): boolean;
  /** Close and release the OS resource; resolves once it is released. Never rejects. */
  close(): Promise<void>;
  /** Human description for logs (`tcp 127.0.0.1:5760`, `udp peer 10.0.0.2:14550`). */
  describe(): string;
}

/** Open a transport; `signal` abandons an open still in progress (a TCP connect to a silent host). */
export type TransportOpener<S extends LinkSpec = LinkSpec> = (spec: S, handlers: TransportHandlers, signal?: AbortSignal) => Promise<Transport>;

type OpenerMap = { [K in LinkKind]: TransportOpener<Extract<LinkSpec, { kind: K }>> };

/** One file per transport, picked by the link string's kind. */
export const TRANSPORTS: OpenerMap = {
  serial: openSerial,
  tcp: openTcp,
  udp: openUdp,
  udpout: openUdpOut,
};

/** Open the transport a spec names. Rejects with the OS error when the device or peer is not there. */
export function openTransport(spec: LinkSpec, handlers: TransportHandlers, signal?: AbortSignal): Promise<Transport> {
  const open = TRANSPORTS[spec.kind] as TransportOpener;
  return open(spec, handlers, signal);
}
