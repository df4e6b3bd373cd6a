import { SerialPort } from 'serialport';
import type { Logger } from 'pino';
import type { SimPeer, SimTransport, TransportHooks } from './transport.js';

const REOPEN_MS = 250;

/**
 * A serial device (a UART, or one end of a socat pty pair in tests). The port stays open across an FC
 * reboot; when the device goes away it is reopened every 250 ms until it is back or the sim stops.
 */
export class SerialTransport implements SimTransport {
  private readonly path: string;
  private readonly baud: number;
  private readonly hooks: TransportHooks;
  private readonly logger: Logger;
  private port: SerialPort | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly peer: SimPeer;

  constructor(spec: { path: string; baud: number }, hooks: TransportHooks, logger: Logger) {
    this.path = spec.path;
    this.baud = spec.baud;
    this.hooks = hooks;
    this.logger = logger;
    this.peer = {
      id: `serial:${this.path}`,
      write: (bytes) => {
        if (this.port?.isOpen) this.port.write(bytes);
      },
      close: () => {},
    };
  }

  get link(): string {
    return `serial:${this.path}:${this.baud}`;
  }

  start(): Promise<void> {
    return this.open();
  }

  async suspend(): Promise<void> {}

  async resume(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reopenTimer);
    const port = this.port;
    this.port = undefined;
    // The port's 'close' handler reports the peer gone.
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private open(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: this.baud, autoOpen: false });
    return new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (err) {
          reject(err);
          return;
        }
        if (this.stopped) {
          port.close();
          resolve();
          return;
        }
        this.port = port;
        port.on('data', (bytes: Buffer) => this.hooks.onData(this.peer, bytes));
        port.on('error', (e) => this.logger.warn({ err: e, path: this.path }, 'fc-sim serial error'));
        port.on('close', () => {
          if (this.port === port) this.port = undefined;
          this.hooks.onClose(this.peer);
          if (!this.stopped) {
            this.logger.warn({ path: this.path }, 'fc-sim serial device closed; reopening');
            this.scheduleReopen();
          }
        });
        this.hooks.onOpen(this.peer);
        resolve();
      });
    });
  }

  private scheduleReopen(): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => {
      this.open().catch(() => {
        if (!this.stopped) this.scheduleReopen();
      });
    }, REOPEN_MS);
  }
}
