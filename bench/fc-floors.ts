import { connect, type Socket } from 'node:net';
import { FrameDecoder, FrameEncoder, zeroCounters } from '../agent/fc/framing.js';
import { Heartbeat, ParamSet, ParamValue } from '../agent/fc/messages.js';
import { MAV_PARAM_TYPE, type ParamType } from '../protocol/param-table.js';

// The floors an agent's push is measured against, on a TCP flight controller (SITL's second port `link2`,
// so the agent keeps `link`): our framing on a bare socket, no retries, no verification logic beyond
// matching each echo — what the wire and the FC alone cost.

export interface FloorParam {
  name: string;
  value: number;
  type: ParamType;
}

export interface RawLink {
  /** 20 PARAM_SETs back to back, then wait for every echo: ms until the last one. */
  pipelined(list: readonly FloorParam[]): Promise<number>;
  /** Set, wait for its echo, next: ms in total. */
  oneAtATime(list: readonly FloorParam[]): Promise<number>;
  close(): void;
}

/** Open a bare MAVLink 2 connection to `tcp:HOST:PORT` and wait for the FC's HEARTBEAT. */
export async function openRawLink(link: string): Promise<RawLink> {
  const m = /^tcp:([^:]+):(\d+)$/.exec(link);
  if (!m) throw new Error(`raw floors need a tcp link, got ${link}`);
  const sock: Socket = connect({ host: m[1]!, port: Number(m[2]) });
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let target: { sys: number; comp: number } | undefined;
  const waiters = new Map<string, (value: number) => void>();
  const decoder = new FrameDecoder(zeroCounters(), (f) => {
    if (f.msgid === Heartbeat.MSG_ID && target === undefined && f.decode(Heartbeat).autopilot === 3) target = { sys: f.sysid, comp: f.compid };
    if (f.msgid !== ParamValue.MSG_ID) return;
    const pv = f.decode(ParamValue);
    waiters.get(pv.paramId)?.(pv.paramValue);
  });
  sock.on('data', (c: Buffer) => decoder.push(c));
  const encoder = new FrameEncoder({ systemId: () => target?.sys ?? 255, componentId: 190 });
  const end = Date.now() + 15_000;
  while (target === undefined) {
    if (Date.now() > end) throw new Error(`${link}: no ArduPilot HEARTBEAT within 15 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const t = target;

  const frame = (p: FloorParam): Buffer => {
    const msg = new ParamSet();
    msg.targetSystem = t.sys;
    msg.targetComponent = t.comp;
    msg.paramId = p.name;
    msg.paramType = MAV_PARAM_TYPE[p.type];
    msg.paramValue = p.value;
    return encoder.encode(msg);
  };
  const echo = (p: FloorParam): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(p.name);
        reject(new Error(`${p.name}: no echo of ${p.value} within 2 s`));
      }, 2000);
      waiters.set(p.name, (v) => {
        if (Math.fround(v) !== Math.fround(p.value)) return;
        clearTimeout(timer);
        waiters.delete(p.name);
        resolve();
      });
    });

  return {
    async pipelined(list) {
      const t0 = performance.now();
      const all = list.map(echo);
      sock.write(Buffer.concat(list.map(frame)));
      await Promise.all(all);
      return performance.now() - t0;
    },
    async oneAtATime(list) {
      const t0 = performance.now();
      for (const p of list) {
        const e = echo(p);
        sock.write(frame(p));
        await e;
      }
      return performance.now() - t0;
    },
    close: () => void sock.destroy(),
  };
}

/** Twenty parameters that exist on ArduCopter 4.7 (and in fc-sim): the 17 settable MNT1_* and three more. */
export function twentyParams(which: 0 | 1, mount: readonly { name: string; type: ParamType; min?: number; max?: number }[]): FloorParam[] {
  const pick = (p: (typeof mount)[number]): number => {
    const lo = p.min ?? 0;
    const hi = p.max ?? 1;
    const x = lo + (hi - lo) * (which === 0 ? 0.25 : 0.75);
    return p.type === 'REAL32' ? Math.fround(x) : Math.round(x);
  };
  return [
    ...mount.map((p) => ({ name: p.name, value: pick(p), type: p.type })),
    { name: 'PILOT_THR_FILT', type: 'REAL32', value: which === 0 ? 1 : 2 },
    { name: 'PILOT_TKOFF_ALT', type: 'REAL32', value: which === 0 ? 100 : 200 },
    { name: 'LAND_SPEED', type: 'INT16', value: which === 0 ? 50 : 60 },
  ];
}

/**
 * A freshly booted SITL is busy for its first seconds (sensor and EKF start-up): commands then ack in
 * 10–25 ms instead of 1–6 ms. Benches let it settle before they measure.
 */
export const SITL_SETTLE_MS = 8000;

export function settle(ms = SITL_SETTLE_MS): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
