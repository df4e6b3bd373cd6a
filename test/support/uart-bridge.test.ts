import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { SerialPort } from 'serialport';
import t, { type Test } from 'tap';
import { requireTool } from './tools.js';
import { startUartBridge, uartBytesPerSecond } from './uart-bridge.js';
import { waitFor } from './wait.js';

const BAUD = 57600;
const haveSocat = (t: Test) => requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'socat');
const BYTES = 5760; // one second of line time at 57600 8N1

/** A TCP peer standing in for SITL: records what arrives with timestamps, sends what it is told. */
async function upstreamPeer(t: Test): Promise<{ port: number; server: Server; conn: Promise<Socket>; got: { at: number; n: number }[] }> {
  const got: { at: number; n: number }[] = [];
  let onConn: (s: Socket) => void = () => undefined;
  const conn = new Promise<Socket>((r) => (onConn = r));
  const server = createServer((s) => {
    s.on('data', (d) => got.push({ at: performance.now(), n: d.length }));
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr !== null ? addr.port : 0, server, conn, got };
}

async function openPty(t: Test, path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: BAUD, autoOpen: false, hupcl: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  t.teardown(() => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())));
  return port;
}

/** Bytes per second over a transfer, from the first arrival to the last (the first chunk's own wire time excluded). */
function rate(samples: { at: number; n: number }[]): number {
  const total = samples.reduce((s, x) => s + x.n, 0);
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  return (total - first.n) / ((last.at - first.at) / 1000);
}

t.test('bytes cross at a UART rate in both directions at once', async (t) => {
  if (!haveSocat(t)) return;
  const peer = await upstreamPeer(t);
  const bridge = await startUartBridge({ upstream: `tcp:127.0.0.1:${peer.port}`, baud: BAUD });
  t.teardown(() => bridge.close());
  const agent = await openPty(t, bridge.pty);
  const sock = await peer.conn;

  const down: { at: number; n: number }[] = [];
  agent.on('data', (d: Buffer) => down.push({ at: performance.now(), n: d.length }));
  const t0 = performance.now();
  agent.write(Buffer.alloc(BYTES, 0x55));
  sock.write(Buffer.alloc(BYTES, 0xaa));

  const sum = (xs: { n: number }[]) => xs.reduce((s, x) => s + x.n, 0);
  await waitFor('both transfers', () => sum(peer.got) >= BYTES && sum(down) >= BYTES, { timeoutMs: 5000 });
  const elapsed = performance.now() - t0;
  const want = uartBytesPerSecond(BAUD);
  const up = rate(peer.got);
  const dn = rate(down);
  t.comment(`agent → FC ${up.toFixed(0)} B/s, FC → agent ${dn.toFixed(0)} B/s, line ${want} B/s, both done in ${elapsed.toFixed(0)} ms`);
  t.equal(sum(peer.got), BYTES, 'every byte reached the FC');
  t.equal(sum(down), BYTES, 'every byte reached the agent');
  // The line never runs faster than the baud rate (a small margin for timer granularity at the edges)…
  t.ok(up <= want * 1.08, `agent → FC not faster than the line (${up.toFixed(0)} B/s)`);
  t.ok(dn <= want * 1.08, `FC → agent not faster than the line (${dn.toFixed(0)} B/s)`);
  // …and not much slower either (the machine is shared, so allow for late timers).
  t.ok(up >= want * 0.8, `agent → FC near the line rate (${up.toFixed(0)} B/s)`);
  t.ok(dn >= want * 0.8, `FC → agent near the line rate (${dn.toFixed(0)} B/s)`);
  t.ok(elapsed >= 950, `one second of line time each way took at least that (${elapsed.toFixed(0)} ms)`);
  t.same(bridge.stats(), { toFc: BYTES, toAgent: BYTES, droppedToAgent: 0 });
});

t.test('a bounded transmit buffer drops whole chunks past it, like a full UART', async (t) => {
  if (!haveSocat(t)) return;
  const peer = await upstreamPeer(t);
  const bridge = await startUartBridge({ upstream: `tcp:127.0.0.1:${peer.port}`, baud: BAUD, txBufferBytes: 1000 });
  t.teardown(() => bridge.close());
  const agent = await openPty(t, bridge.pty);
  const sock = await peer.conn;
  let got = 0;
  agent.on('data', (d: Buffer) => (got += d.length));
  sock.write(Buffer.alloc(800, 1));
  await waitFor('first chunk queued', () => bridge.stats().toAgent > 0, { timeoutMs: 2000 });
  sock.write(Buffer.alloc(800, 2));
  await waitFor('the drop', () => bridge.stats().droppedToAgent === 1, { timeoutMs: 2000 });
  await waitFor('the first chunk delivered', () => got === 800, { timeoutMs: 2000 });
  t.equal(bridge.stats().toAgent, 800);
});

t.test('close removes the pty and the TCP connection', async (t) => {
  if (!haveSocat(t)) return;
  const peer = await upstreamPeer(t);
  const bridge = await startUartBridge({ upstream: `tcp:127.0.0.1:${peer.port}`, baud: BAUD });
  const sock = await peer.conn;
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  t.ok(existsSync(bridge.pty), 'pty exists while open');
  await bridge.close();
  t.notOk(existsSync(bridge.pty), 'pty gone after close');
  await ended;
  t.pass('the FC saw the connection close');
  await bridge.close(); // twice is harmless
});

t.test('an upstream that is not listening is an error, and leaves nothing behind', async (t) => {
  const peer = await upstreamPeer(t);
  const port = peer.port;
  await new Promise<void>((r) => peer.server.close(() => r()));
  await t.rejects(startUartBridge({ upstream: `tcp:127.0.0.1:${port}`, baud: BAUD }), { code: 'ECONNREFUSED' });
  await t.rejects(startUartBridge({ upstream: 'serial:/dev/null', baud: BAUD }), /expected tcp:HOST:PORT/);
});
