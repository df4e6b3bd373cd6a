import type { Ack } from '../../protocol/index.js';
import { connectBroker } from '../broker.js';
import { EXIT_OK, UsageError, parseCommandArgs, parseDroneList, type CliIO } from '../cli-io.js';
import { FleetLink, type DroneView } from '../fleet-link.js';
import { groundLogger } from '../log.js';
import { BROKER_OPTIONS } from '../options.js';
import { brokerSettings } from '../options.js';

const USAGE = `usage: aimctl status [--drones a,b,c] [--listen S] [--json] --broker URL
  the fleet from its retained status and reported topics: one row per drone.
  Acks are not retained: --listen S waits S seconds and shows the last ack each drone sent meanwhile.`;

export interface StatusRow {
  drone: string;
  state: string;
  armed: boolean | null;
  appliedVersion: number | null;
  id: string | null;
  sha256: string | null;
  verified: boolean | null;
  drift: number | null;
  /** A retained desired that is not (yet) the applied one: pending, deferred, failed or a dry run. */
  desiredVersion: number | null;
  lastAck: string | null;
  /** Seconds since the drone applied its current config. */
  ageS: number | null;
}

/** One row of the fleet table from what the broker retains (pure; `now` for the age). */
export function statusRow(drone: string, v: DroneView, lastAck: Ack | undefined, now: number): StatusRow {
  const applied = v.reported?.appliedAt === undefined ? NaN : Date.parse(v.reported.appliedAt);
  const desired = v.desired;
  return {
    drone,
    state: v.status?.state ?? 'unknown',
    armed: v.status?.armed ?? null,
    appliedVersion: v.reported?.version ?? v.status?.appliedVersion ?? null,
    id: v.reported?.id ?? null,
    sha256: v.reported?.sha256 ?? null,
    verified: v.reported?.fc.verified ?? null,
    drift: v.reported?.fc.drift.length ?? null,
    desiredVersion: desired !== undefined && desired.sha256 !== v.reported?.sha256 ? desired.config.version : null,
    lastAck: lastAck === undefined ? null : `${lastAck.status} v${lastAck.version ?? '?'}`,
    ageS: Number.isNaN(applied) ? null : Math.max(0, Math.round((now - applied) / 1000)),
  };
}

function age(s: number | null): string {
  if (s === null) return '-';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function statusTable(rows: readonly StatusRow[]): string {
  const head = ['DRONE', 'STATE', 'ARMED', 'APPLIED', 'ID', 'DRIFT', 'DESIRED', 'LAST ACK', 'AGE'];
  const cells = rows.map((r) => [
    r.drone,
    r.state,
    r.armed === null ? '-' : r.armed ? 'yes' : 'no',
    r.appliedVersion === null ? '-' : String(r.appliedVersion),
    r.id ?? '-',
    r.drift === null ? '-' : r.verified === false ? `${r.drift} (unverified)` : String(r.drift),
    r.desiredVersion === null ? '-' : `${r.desiredVersion} (pending)`,
    r.lastAck ?? '-',
    age(r.ageS),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...cells.map(line)].join('\n');
}

/** `aimctl status`: the fleet table (or JSON lines with --json). */
export async function statusCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...BROKER_OPTIONS, drones: { type: 'string' }, listen: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}\n${USAGE}`);
  const listenS = values.listen === undefined ? 0 : Number(values.listen);
  if (!(listenS >= 0) || !Number.isFinite(listenS)) throw new UsageError('--listen S: give a number of seconds');
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
    const rows = ids.map((d) => statusRow(d, link.view(d), acks.get(d), now));
    if (values.json) for (const r of rows) io.out(JSON.stringify(r) + '\n');
    else io.out((rows.length === 0 ? `no drones under ${broker.topicPrefix}/` : statusTable(rows)) + '\n');
    return EXIT_OK;
  } finally {
    await link.close();
  }
}
