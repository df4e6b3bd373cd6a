import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { FcSim, FcSimOptions } from './fc-sim-types.js';
import { startFcSim } from './fc-sim.js';
import { parseSimLink } from './link-spec.js';

export const USAGE = `usage: fc-sim --link tcp:HOST:PORT|udp:HOST:PORT|serial:DEVICE:BAUD [options]

  --baud-limit          pace bytes at 10 bits/byte of the baud, both directions
  --baud N              baud for --baud-limit on tcp/udp
  --loss P              drop whole frames with probability P (both directions)
  --corrupt P           flip each byte with probability P
  --latency MS          one-way delay, each direction
  --freeze-after N      stop answering after N received frames
  --armed               start armed
  --params-file F       keep parameter values across reboots and restarts
  --param NAME=VALUE    default override (repeatable)
  --read-latency MS     answer every PARAM_REQUEST_READ after MS (default: as SITL, 5 per 100 ms tick)
  --reboot-delay MS     reboot to first HEARTBEAT (default 2400 tcp/udp, 1200 serial)
  --sysid N             MAV_SYSID default (1)
  --log-level L         pino level for the JSON log on stderr (default info)

prints "fc-sim ready <link>" once serving; SIGTERM/SIGINT stop it (exit 0)
`;

export class UsageError extends Error {}

const num = (flag: string, v: string | undefined, check: (n: number) => boolean = (n) => n >= 0): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${flag}: bad value '${v}'`);
  return n;
};

const FLAGS = {
  link: { type: 'string' },
  'baud-limit': { type: 'boolean' },
  baud: { type: 'string' },
  loss: { type: 'string' },
  corrupt: { type: 'string' },
  latency: { type: 'string' },
  'freeze-after': { type: 'string' },
  armed: { type: 'boolean' },
  'params-file': { type: 'string' },
  param: { type: 'string', multiple: true },
  'read-latency': { type: 'string' },
  'reboot-delay': { type: 'string' },
  sysid: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options: FLAGS }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** argv (without node and script) → options for startFcSim, plus the log level; throws UsageError. */
export function parseFcSimArgs(argv: string[]): { options: Omit<FcSimOptions, 'logger'>; logLevel: string } | 'help' {
  const values = parseFlags(argv);
  if (values.help) return 'help';
  if (values.link === undefined) throw new UsageError('--link is required');
  try {
    parseSimLink(values.link);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const params: Record<string, number> = {};
  for (const p of values.param ?? []) {
    const m = /^([A-Za-z][A-Za-z0-9_]{0,15})=(.+)$/.exec(p);
    const value = m === null ? Number.NaN : Number(m[2]);
    if (m === null || !Number.isFinite(value)) throw new UsageError(`--param: want NAME=VALUE, got '${p}'`);
    params[m[1]!] = value;
  }
  const prob = (n: number) => n >= 0 && n <= 1;
  const options: Omit<FcSimOptions, 'logger'> = {
    link: values.link,
    baudLimit: values['baud-limit'] ?? false,
    armed: values.armed ?? false,
    params,
  };
  const set = <K extends keyof typeof options>(key: K, v: (typeof options)[K] | undefined) => {
    if (v !== undefined) options[key] = v;
  };
  set('baud', num('baud', values.baud, (n) => n > 0));
  set('loss', num('loss', values.loss, prob));
  set('corrupt', num('corrupt', values.corrupt, prob));
  set('latencyMs', num('latency', values.latency));
  set('freezeAfter', num('freeze-after', values['freeze-after'], Number.isInteger));
  set('readLatencyMs', num('read-latency', values['read-latency']));
  set('rebootDelayMs', num('reboot-delay', values['reboot-delay']));
  set('systemId', num('sysid', values.sysid, (n) => Number.isInteger(n) && n >= 1 && n <= 255));
  set('paramsFile', values['params-file']);
  return { options, logLevel: values['log-level'] ?? 'info' };
}

/** The fc-sim command: serve until SIGTERM/SIGINT. Resolves with the exit code. */
export async function runFcSim(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseFcSimArgs>;
  try {
    parsed = parseFcSimArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`fc-sim: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const logger = pino({ name: 'fc-sim', level: parsed.logLevel }, pino.destination({ fd: 2, sync: true }));
  let sim: FcSim;
  try {
    sim = await startFcSim({ ...parsed.options, logger });
  } catch (err) {
    process.stderr.write(`fc-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof RangeError ? 2 : 1;
  }
  process.stdout.write(`fc-sim ready ${sim.link}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info({ signal }, 'fc-sim stopping');
  await sim.stop();
  return 0;
}
