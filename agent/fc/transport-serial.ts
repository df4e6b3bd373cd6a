import { SerialPort } from 'serialport';
import type { LinkSpec } from './link-string.js';
import type { Transport, TransportHandlers } from './transport.js';

type SerialSpec = Extract<LinkSpec, { kind: 'serial' }>;

/**
 * A serial device (UART, USB CDC, a pty in tests). A device that disappears (USB unplugged, the pty's
 * master closed) closes the port with `disconnected`, which the link treats like a dropped TCP peer.
 * Never calls SerialPort.list(): it shells out to udevadm, which is absent on minimal images.
 */
export function openSerial(spec: SerialSpec, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path: spec.path, baudRate: spec.baudRate, autoOpen: false, hupcl: false });
    let opened = false;
    let closedByUs = false;
    let closeReported = false;
    const reportClose = (err?: Error) => {
      if (closeReported) return;
      closeReported = true;
      handlers.onClose(closedByUs ? undefined : (err ?? new Error(`serial ${spec.path} closed`)));
    };
    let lastError: Error | undefined;
    port.on('data', (chunk: Buffer) => handlers.onData(chunk));
    port.on('error', (err: Error) => {
      lastError = err;
      // A write or read error on an open port: the port usually closes next; make sure it does.
      if (opened && port.isOpen) port.close(() => reportClose(err));
      else if (opened) reportClose(err);
    });
    port.on('close', (err: Error | null) => reportClose(err ?? lastError));
    port.open((err) => {
      if (err) {
        reject(err);
        return;
      }
      opened = true;
      resolve({
        write(buf) {
          if (!port.isOpen) return false;
          port.write(buf);
          return true;
        },
        close() {
          closedByUs = true;
          return new Promise<void>((done) => {
            if (!port.isOpen) {
              reportClose();
              done();
              return;
            }
            port.close(() => {
              reportClose();
              done();
            });
          });
        },
        describe: () => `serial ${spec.path} @${spec.baudRate}`,
      });
    });
  });
}
