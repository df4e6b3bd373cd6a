import { startFcSim, type FcSim, type FcSimOptions } from '../sim/index.js';
import { freePort, ptyPair, spawnTs, type PtyPair, type Teardown, type Tracked } from '../test/support/index.js';
import { startSitl, type Sitl } from '../test/support/sitl.js';
import { startUartBridge } from '../test/support/uart-bridge.js';

/**
 * The flight controller a hw-test talks to. `AIM_FC=<link>` names an external one (a bench drone on
 * serial:/dev/ttyUSB0:57600); without it the suite runs on four: fc-sim over a socat pty pair at 57600
 * with --baud-limit, fc-sim over TCP, ArduPilot SITL over TCP, and ArduPilot SITL at 57600 through the
 * UART pacing bridge (test/support/uart-bridge.ts). One SITL per test file serves both SITL targets.
 */
export interface FcTarget {
  name: string;
  /** What the agent opens. */
  link: string;
  /**
   * A second, independent link to the same FC for a raw client (fc-sim over TCP takes several clients;
   * SITL has its SERIAL1). Undefined when the FC has one port only (a pty, a bench drone).
   */
  link2?: string;
  /** Only for fc-sim targets: the controls a real FC does not offer. */
  sim?: SimControl;
}

export interface SimControl {
  kind: 'pty' | 'tcp';
  /** SIGKILL the fc-sim process and wait for it to be gone. */
  kill(): Promise<void>;
  /** Start fc-sim again on the same link (same port / same pty). */
  restart(): Promise<void>;
  /** pty only: kill socat (the device disappears) and make the pair again under the same paths. */
  removePty?(): Promise<void>;
  recreatePty?(): Promise<void>;
  /**
   * A second, in-process fc-sim with impairments on a fresh link of the same kind (its own pty pair or
   * port), for the sim-only cases. Stopped at teardown. Returns the agent-side link string.
   */
  impaired(t: Teardown, opts: Partial<FcSimOptions>): Promise<{ link: string; sim: FcSim }>;
}

export const SIM_BAUD = 57600;

export type TargetKind = 'external' | 'pty' | 'tcp' | 'sitl' | 'sitl-uart';

/** The targets for this run: AIM_FC alone, or fc-sim over pty and TCP, then SITL over TCP and at 57600. */
export function fcTargets(): { name: string; kind: TargetKind; link?: string }[] {
  const external = process.env.AIM_FC;
  if (external !== undefined && external !== '') return [{ name: `AIM_FC=${external}`, kind: 'external', link: external }];
  return [
    { name: `fc-sim over a socat pty at ${SIM_BAUD} baud, --baud-limit`, kind: 'pty' },
    { name: 'fc-sim over TCP', kind: 'tcp' },
    { name: 'ArduPilot SITL over TCP', kind: 'sitl' },
    { name: `ArduPilot SITL at ${SIM_BAUD} baud through the UART pacing bridge`, kind: 'sitl-uart' },
  ];
}

export const isSitlKind = (kind: TargetKind): boolean => kind === 'sitl' || kind === 'sitl-uart';

/**
 * One SITL for the whole test file, started on first use (`sitl start --wipe`) and stopped when the
 * file's top-level test ends (also on failure). `file` is the tap root test of the file.
 */
export function sharedSitl(file: Teardown): () => Promise<Sitl> {
  let sitl: Promise<Sitl> | undefined;
  return () => (sitl ??= startSitl(file));
}

/** Bring a target up (fc-sim process, pty pair, SITL bridge). Check for socat / SITL first. */
export async function startTarget(t: Teardown, target: ReturnType<typeof fcTargets>[number], sitl?: () => Promise<Sitl>): Promise<FcTarget> {
  if (target.kind === 'external') return { name: target.name, link: target.link as string };
  if (target.kind === 'sitl' || target.kind === 'sitl-uart') {
    if (sitl === undefined) throw new Error('startTarget: a SITL target needs sharedSitl()');
    const s = await sitl();
    if (target.kind === 'sitl') return { name: target.name, link: s.link, link2: s.link2 };
    const bridge = await startUartBridge({ upstream: s.link, baud: SIM_BAUD });
    t.teardown(() => bridge.close());
    return { name: target.name, link: `serial:${bridge.pty}:${SIM_BAUD}`, link2: s.link2 };
  }
  if (target.kind === 'tcp') {
    const port = await freePort();
    const simLink = `tcp:127.0.0.1:${port}`;
    let proc = await spawnSim(t, simLink, []);
    return {
      name: target.name,
      link: simLink,
      link2: simLink,
      sim: {
        kind: 'tcp',
        kill: () => killProc(proc),
        restart: async () => {
          proc = await spawnSim(t, simLink, []);
        },
        impaired: async (tt, opts) => {
          const sim = await startFcSim({ link: 'tcp:127.0.0.1:0', ...opts });
          tt.teardown(() => sim.stop());
          return { link: sim.link, sim };
        },
      },
    };
  }
  let pty = await ptyPair(t);
  const dir = pty.a.slice(0, pty.a.lastIndexOf('/'));
  const simLink = `serial:${pty.a}:${SIM_BAUD}`;
  let proc = await spawnSim(t, simLink, ['--baud-limit']);
  return {
    name: target.name,
    link: `serial:${pty.b}:${SIM_BAUD}`,
    sim: {
      kind: 'pty',
      kill: () => killProc(proc),
      restart: async () => {
        proc = await spawnSim(t, simLink, ['--baud-limit']);
      },
      removePty: () => pty.stop(),
      recreatePty: async () => {
        pty = await ptyPair(t, { dir });
      },
      impaired: async (tt, opts) => {
        const pair: PtyPair = await ptyPair(tt);
        const sim = await startFcSim({ link: `serial:${pair.a}:${SIM_BAUD}`, baudLimit: true, ...opts });
        tt.teardown(() => sim.stop());
        return { link: `serial:${pair.b}:${SIM_BAUD}`, sim };
      },
    },
  };
}

async function spawnSim(t: Teardown, link: string, extra: string[]): Promise<Tracked> {
  const proc = spawnTs(t, 'sim/bin/fc-sim.ts', ['--link', link, '--log-level', 'warn', ...extra]);
  await proc.waitForLine(/^fc-sim ready /, 20_000);
  return proc;
}

async function killProc(proc: Tracked): Promise<void> {
  proc.kill('SIGKILL');
  await proc.exited;
}
