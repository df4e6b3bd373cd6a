import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BITS_PER_BYTE, PacedQueue } from '../../sim/paced-queue.js';
import { waitFor } from './wait.js';

export interface UartBridgeOptions {
  /** The FC's byte stream: `tcp:HOST:PORT` (ArduPilot SITL's SERIAL0 or SERIAL1). */
  upstream: string;
  /** Line rate; bytes cross at baud / 10 per second each way (8N1: start + 8 data + stop bits). */
  baud: number;
  /**
   * Most bytes the FC → agent direction may hold; a TCP chunk that would overflow it is dropped whole,
   * like a stream message ArduPilot skips when its UART transmit buffer is full. Default: no bound —
   * SITL over TCP cannot see the line, so it sends a parameter list as fast as TCP takes it, where on a
   * UART it would wait for space; queueing (not dropping) is the faithful model for replies.
   */
  txBufferBytes?: number;
}

export interface UartBridge {
  /** The pty the agent opens, e.g. `serial:${pty}:57600`. */
  pty: string;
  /** Bytes delivered each way, and FC → agent chunks dropped because the line was full. */
  stats(): { toFc: number; toAgent: number; droppedToAgent: number };
  close(): Promise<void>;
}

/**
 * A serial line at a real baud rate between the agent and a flight controller that only speaks TCP
 * (ArduPilot SITL). socat makes a real pty for the agent and hands its bytes to this process on stdio;
 * each direction passes through a PacedQueue at `baud`, so the agent sees a UART's throughput and
 * latency, not loopback TCP's. The pty path is a stable symlink in a temp dir, removed on close.
 */
export async function startUartBridge(opts: UartBridgeOptions): Promise<UartBridge> {
  const m = /^tcp:([^:]+):(\d+)$/.exec(opts.upstream);
  if (!m) throw new Error(`upstream: expected tcp:HOST:PORT, got ${opts.upstream}`);
  if (!Number.isInteger(opts.baud) || opts.baud <= 0) throw new Error(`baud: expected a positive integer, got ${opts.baud}`);
  const txLimit = opts.txBufferBytes ?? Number.POSITIVE_INFINITY;
  const dir = mkdtempSync(join(tmpdir(), 'aim-uart-'));
  const pty = join(dir, 'tty');

  const sock: Socket = connect({ host: m[1]!, port: Number(m[2]) });
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });

  const socat = spawn('socat', ['-d', `pty,raw,echo=0,link=${pty}`, 'stdio'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const socatExited = new Promise<void>((resolve) => {
    socat.on('exit', () => resolve());
    socat.on('error', () => resolve());
  });
  let socatErr = '';
  socat.stderr.setEncoding('utf8').on('data', (d: string) => (socatErr += d));
  // Closing the bridge breaks these pipes; that is the end of the line, not a fault.
  socat.stdin.on('error', () => undefined);
  sock.on('error', () => undefined);

  const stats = { toFc: 0, toAgent: 0, droppedToAgent: 0 };
  const toFc = new PacedQueue({
    baud: opts.baud,
    deliver: (chunk) => {
      stats.toFc += chunk.length;
      if (!sock.destroyed) sock.write(chunk);
    },
  });
  const toAgent = new PacedQueue({
    baud: opts.baud,
    deliver: (chunk) => {
      stats.toAgent += chunk.length;
      if (socat.stdin.writable) socat.stdin.write(chunk);
    },
  });
  socat.stdout.on('data', (chunk: Buffer) => toFc.push(chunk));
  sock.on('data', (chunk: Buffer) => {
    if (toAgent.pendingBytes + chunk.length > txLimit) stats.droppedToAgent += 1;
    else toAgent.push(chunk);
  });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    toFc.close();
    toAgent.close();
    sock.destroy();
    if (socat.exitCode === null && socat.signalCode === null && socat.pid !== undefined) {
      try {
        process.kill(-socat.pid, 'SIGKILL');
      } catch {
        socat.kill('SIGKILL');
      }
    }
    await socatExited;
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor('uart bridge pty', () => existsSync(pty) || socat.exitCode !== null, { timeoutMs: 5000 });
    if (!existsSync(pty)) throw new Error(`socat exited before making the pty: ${socatErr.trim()}`);
  } catch (err) {
    await close();
    throw err;
  }
  return { pty, stats: () => ({ ...stats }), close };
}

/** Bytes per second a UART at `baud` 8N1 carries. */
export function uartBytesPerSecond(baud: number): number {
  return baud / BITS_PER_BYTE;
}
