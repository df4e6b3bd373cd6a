import type { Ack } from '../../protocol/index.js';
import { connectBroker } from '../broker.js';
import { EXIT_OK, UsageError, parseCommandArgs, parseDroneList, type CliIO } from '../cli-io.js';
import { FleetLink, type DroneView } from '../fleet-link.js';
import { groundLogger } from '../log.js';
import { BROKER_OPTIONS } from '../options.js';
import { brokerSettings } from '../options.js';

const USAGE = `usage: aimctl status [--drones a,b,c] [--listen S] [--target N] [--json] --broker URL
  the fleet from its retained status and reported topics: one row per drone, then the drones whose
  final state is not known (offline, or a desired config not applied) and those off the fleet target.
  --target N   the fleet's target version (default: the highest version in any listed drone's retained
               desired, i.e. the config issued last)
  Acks are not retained: --listen S waits S seconds and shows the last ack each drone sent meanwhile.`;

export interface StatusRow {
  drone: string;
  state: string;
  armed: boolean | null;
  appliedVersion: number | null;
  id: string | null;
  sha256: string | null;
  verified: boolean | null;
  /** Parameters that differ from the aim file now (after any repair). */
  drift: number | null;
  /** When the agent last pushed drifted parameters back, and how many. */
  repairedAt: string | null;
  repaired: number | null;
  /** A retained desired that is not (yet) the applied one: pending, deferred, failed or a dry run. */
  desiredVersion: number | null;
  lastAck: string | null;
  /** Seconds since the drone applied its current config. */
  ageS: number | null;
  /** The fleet target version, and whether this drone's applied version differs from it. */
  target: number | null;
  offTarget: boolean;
  /** False when what the drone runs, or will run, is not known: offline, or a desired config not (yet) applied. */
  finalKnown: boolean;
  why: string | null;
}

/** The fleet target: the highest version in any drone's retained desired, the config issued last. */
export function fleetTarget(views: Iterable<DroneView>): number | null {
  let best: number | null = null;
  for (const v of views) {
    const d = v.desired?.config;
    if (d !== undefined && d.apply?.dryRun !== true && (best === null || d.version > best)) best = d.version;
  }
  return best;
}

/** One row of the fleet table from what the broker retains (pure; `now` for the age). */
export function statusRow(drone: string, v: DroneView, lastAck: Ack | undefined, now: number, target: number | null = null): StatusRow {
  const applied = v.reported?.appliedAt === undefined ? NaN : Date.parse(v.reported.appliedAt);
  const desired = v.desired;
  const appliedVersion = v.reported?.version ?? v.status?.appliedVersion ?? null;
  const pending = desired !== undefined && desired.sha256 !== v.reported?.sha256 && desired.config.apply?.dryRun !== true ? desired.config.version : null;
  const state = v.status?.state ?? 'unknown';
  const offline = state === 'offline' || state === 'unknown';
  let why: string | null = null;
  if (offline) why = `${state === 'unknown' ? 'never published a status' : 'offline'}${pending !== null ? `; desired v${pending} waits on the broker` : ''}`;
  else if (pending !== null) why = state === 'deferred' ? `desired v${pending} deferred (armed)` : `desired v${pending} not applied (in progress, failed or rejected)`;
  return {
    drone,
    state: v.status?.state ?? 'unknown',
    armed: v.status?.armed ?? null,
    appliedVersion,
    id: v.reported?.id ?? null,
    sha256: v.reported?.sha256 ?? null,
    verified: v.reported?.fc.verified ?? null,
    drift: v.reported?.fc.drift.length ?? null,
    repairedAt: v.reported?.fc.repairedAt ?? null,
    repaired: v.reported?.fc.repaired?.length ?? null,
    desiredVersion: pending,
    lastAck: lastAck === undefined ? null : `${lastAck.status} v${lastAck.version ?? '?'}`,
    ageS: Number.isNaN(applied) ? null : Math.max(0, Math.round((now - applied) / 1000)),
    target,
    offTarget: target !== null && appliedVersion !== target,
    finalKnown: why === null,
    why,
  };
}

function age(s: number | null): string {
  if (s === null) return '-';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function statusTable(rows: readonly StatusRow[], now: number = Date.now()): string {
  const head = ['DRONE', 'STATE', 'ARMED', 'APPLIED', 'ID', 'DRIFT', 'REPAIRED', 'DESIRED', 'LAST ACK', 'AGE'];
  const cells = rows.map((r) => [
    r.drone,
    r.state,
    r.armed === null ? '-' : r.armed ? 'yes' : 'no',
    r.appliedVersion === null ? '-' : `${r.appliedVersion}${r.offTarget ? ` (target ${r.target})` : ''}`,
    r.id ?? '-',
    r.drift === null ? '-' : r.verified === false ? `${r.drift} (unverified)` : String(r.drift),
    r.repairedAt === null ? '-' : `${r.repaired ?? '?'} param(s) ${age(Math.max(0, Math.round((now - Date.parse(r.repairedAt)) / 1000)))} ago`,
    r.desiredVersion === null ? '-' : `${r.desiredVersion} (pending)`,
    r.lastAck ?? '-',
    age(r.ageS),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [line(head), ...cells.map(line)];
  const target = rows.find((r) => r.target !== null)?.target;
  const off = rows.filter((r) => r.offTarget);
  const unknown = rows.filter((r) => !r.finalKnown);
  if (target !== undefined) lines.push('', `fleet target: version ${target}; ${off.length === 0 ? 'every drone has applied it' : `${off.length} drone(s) off target: ${list(off.map((r) => r.drone))}`}`);
  if (unknown.length > 0) lines.push(`final state NOT KNOWN for ${unknown.length} drone(s):`, ...unknown.slice(0, 50).map((r) => `  ${r.drone}: ${r.why}`), ...(unknown.length > 50 ? [`  … ${unknown.length - 50} more (--json lists them all)`] : []));
  return lines.join('\n');
}

function list(ids: string[]): string {
  return ids.length <= 20 ? ids.join(', ') : `${ids.slice(0, 20).join(', ')} … (${ids.length - 20} more)`;
}

/** `aimctl status`: the fleet table (or JSON lines with --json). */
export async function statusCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...BROKER_OPTIONS, drones: { type: 'string' }, listen: { type: 'string' }, target: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}\n${USAGE}`);
  const listenS = values.listen === undefined ? 0 : Number(values.listen);
  if (!(listenS >= 0) || !Number.isFinite(listenS)) throw new UsageError('--listen S: give a number of seconds');
  if (values.target !== undefined && !/^\d{1,15}$/.test(values.target)) throw new UsageError(`--target ${JSON.stringify(values.target)}: give a version number`);
  const broker = brokerSettings(values, io.env);
  const drones = values.drones === undefined ? 'all' : parseDroneList('drones', values.drones);
  const client = await connectBroker(broker, io.signal !== undefined ? { signal: io.signal } : {});
  const link = await FleetLink.open(client, { topicPrefix: broker.topicPrefix, drones, logger: groundLogger(io.env) }).catch(async (err: unknown) => {
    await client.endAsync(true);
    throw err;
  });
  try {
    const acks = new Map<string, Ack>();
    link.on('ack', (d, ack) => acks.set(d, ack));
    if (listenS > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, listenS * 1000);
        io.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    const ids = drones === 'all' ? link.knownDrones() : drones;
    const now = Date.now();
    const target = values.target !== undefined ? Number(values.target) : fleetTarget(ids.map((d) => link.view(d)));
    const rows = ids.map((d) => statusRow(d, link.view(d), acks.get(d), now, target));
    if (values.json) io.out(rows.map((r) => JSON.stringify(r) + '\n').join(''));
    else io.out((rows.length === 0 ? `no drones under ${broker.topicPrefix}/` : statusTable(rows, now)) + '\n');
    return EXIT_OK;
  } finally {
    await link.close();
  }
}
