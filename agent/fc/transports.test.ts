import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import t from 'tap';
import { MavLinkPacketParser, MavLinkPacketSplitter, MavLinkProtocolV2, minimal, type MavLinkPacket } from 'node-mavlink';
import { nextEvent } from '../../test/support/index.js';
import { testLink } from './test-helpers/index.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A bare UDP "autopilot": sends HEARTBEATs from its socket, emits 'frame' for every frame it gets. */
async function udpFc(t: Teardown) {
  const sock = createSocket('udp4');
  const events = new EventEmitter();
  const splitter = new MavLinkPacketSplitter();
  const parser = new MavLinkPacketParser();
  splitter.pipe(parser);
  let from = { address: '', port: 0 };
  parser.on('data', (p: MavLinkPacket) => events.emit('frame', p, from));
  sock.on('message', (m, rinfo) => {
    from = { address: rinfo.address, port: rinfo.port };
    splitter.write(m);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    splitter.destroy();
    parser.destroy();
    return new Promise<void>((r) => sock.close(() => r()));
  });
  let seq = 0;
  const heartbeat = (port: number, address = '127.0.0.1') => {
    const hb = new minimal.Heartbeat();
    hb.type = minimal.MavType.QUADROTOR;
    hb.autopilot = minimal.MavAutopilot.ARDUPILOTMEGA;
    hb.baseMode = 0x51 as typeof hb.baseMode;
    hb.systemStatus = minimal.MavState.STANDBY;
    hb.mavlinkVersion = 3;
    sock.send(new MavLinkProtocolV2(7, 1).serialize(hb, seq++ & 0xff), port, address);
  };
  return { events, heartbeat, port: (sock.address() as { port: number }).port };
}

/** A UDP port that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const ourHeartbeat = (p: MavLinkPacket) => p.header.msgid === minimal.Heartbeat.MSG_ID && p.header.compid === 191;

t.test('udp (listen): hears the FC, answers whoever sent last', async (t) => {
  const fc = await udpFc(t);
  const listenPort = await freeUdpPort();
  const link = await testLink(t, `udp:127.0.0.1:${listenPort}`, { wait: false, heartbeatIntervalMs: 50 });
  const up = nextEvent(link, 'up', { timeoutMs: 3000 });
  // The link binds in the background: knock until it hears us (a real FC beats at 1 Hz anyway).
  const knock = setInterval(() => fc.heartbeat(listenPort), 50);
  t.teardown(() => clearInterval(knock));
  await up;
  t.match(link.vehicle, { systemId: 7, componentId: 1 });
  const p = await nextEvent<MavLinkPacket>(fc.events, 'frame', { timeoutMs: 3000, filter: (x) => ourHeartbeat(x) && x.header.sysid === 7 });
  t.equal(p.header.sysid, 7, 'our heartbeat went back to the sender, with the FC system id');
});

t.test('udpout: we speak first, so the far end learns where we are', async (t) => {
  const fc = await udpFc(t);
  const heard = nextEvent<MavLinkPacket>(fc.events, 'frame', { timeoutMs: 3000, filter: ourHeartbeat });
  let replyTo = { address: '', port: 0 };
  fc.events.on('frame', (_p: MavLinkPacket, from: { address: string; port: number }) => (replyTo = from));
  const link = await testLink(t, `udpout:127.0.0.1:${fc.port}`, { wait: false, heartbeatIntervalMs: 50 });
  await heard;
  t.pass('our HEARTBEAT reached the FC before it said anything');
  const up = nextEvent(link, 'up', { timeoutMs: 3000 });
  fc.heartbeat(replyTo.port, replyTo.address);
  await up;
  t.match(link.vehicle, { systemId: 7 });
});
