import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { AimError, type AimConfig } from '../../protocol/index.js';
import { connectBroker } from '../broker.js';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommandArgs, parseDroneList, parseSeconds, type CliIO } from '../cli-io.js';
import { readConfigFile, signConfig } from '../config-io.js';
import { FleetLink } from '../fleet-link.js';
import { groundLogger } from '../log.js';
import { ensureStateDir } from '../state-dir.js';
import { BROKER_OPTIONS, KEY_OPTION, brokerSettings, readSigningKey, signingKeyPath } from '../options.js';
import { parseAmount, type Amount } from '../rollout/amount.js';
import { runRollout, summaryRows } from '../rollout/engine.js';
import type { RunStats } from '../rollout/events.js';
import { prepareRollout } from '../rollout/prepare.js';
import { unknownFinal } from '../rollout/restore.js';
import { TtyProgress, jsonProgress, type ProgressSink } from '../rollout/progress.js';
import { StateSaver, readStateFile, writeStateFile } from '../rollout/state-file.js';
import type { RolloutState } from '../rollout/state.js';
import { parseWaves } from '../rollout/waves.js';

export const ROLLOUT_USAGE = `usage:
  aimctl rollout CONFIG (--drones a,b,c | --all) [--canary N | --canary-drones a,b]
                 [--waves 10%,50%,100%] [--max-failures N|P%] [--timeout S] [--version N]
                 [--dry-run] [--rollback] [--previous-config FILE ...] [--skip-offline]
                 [--state FILE] [--json] --key PRIVATE.pem --broker URL
  (CONFIG may leave out "version": the roll-out takes the next one above every targeted drone's)
  aimctl rollout --resume FILE [--rollback-now] [--timeout S] [--json] [--key PRIVATE.pem] [--broker URL]

  --canary N          the first N drones given go first, alone (default 1; cannot be 0)
  --waves LIST        cumulative share of all targeted drones after each wave (default 100%)
  --max-failures N|P% failures tolerated before halting, P% of the targeted drones rounded down (default 0)
  --timeout S         how long each wave waits for its acks (default 120)
  --dry-run           shadow configs: agents ack dry-run with the diff; nothing changes
  --rollback          on halt, re-issue each updated drone's previous config as a new version
  --previous-config F configs you kept: used for rollback when a drone's applied config is not on the
                      broker (matched by sha256; the first F is the fallback). Repeatable.
  --skip-offline      leave drones that are offline at the start out (otherwise they count as failures)
  --state FILE        the state file (default AIMCTL_STATE_DIR, $XDG_STATE_HOME/aimctl or
                      ~/.local/state/aimctl, as aimctl-rollout-<id>.json)
  --resume FILE       carry on an interrupted roll-out from its state file
  --rollback-now      with --resume: stop there and roll back the drones already updated
exit: 0 every targeted drone applied (or acked dry-run), 1 anything else, 2 usage error`;

const OPTIONS = {
  ...BROKER_OPTIONS,
  ...KEY_OPTION,
  drones: { type: 'string' },
  all: { type: 'boolean' },
  canary: { type: 'string' },
  'canary-drones': { type: 'string' },
  waves: { type: 'string' },
  'max-failures': { type: 'string' },
  timeout: { type: 'string' },
  version: { type: 'string' },
  'dry-run': { type: 'boolean' },
  rollback: { type: 'boolean' },
  'previous-config': { type: 'string', multiple: true },
  'skip-offline': { type: 'boolean' },
  state: { type: 'string' },
  json: { type: 'boolean' },
  resume: { type: 'string' },
  'rollback-now': { type: 'boolean' },
} as const;

const PLAN_ONLY = ['drones', 'all', 'canary', 'canary-drones', 'waves', 'max-failures', 'version', 'dry-run', 'rollback', 'previous-config', 'skip-offline', 'state'] as const;

function usage<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
}

interface PlanOptions {
  drones: string[] | 'all';
  canary: number | string[];
  waves: Amount[];
  maxFailures: Amount;
  version?: number;
}

interface Plan extends PlanOptions {
  config: AimConfig;
  previousConfigs?: AimConfig[];
}

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

/** The plan's options as given (no files, no network): every mistake is a UsageError. */
function planOptions(values: Values): PlanOptions {
  let canary: number | string[] = 1;
  if (values['canary-drones'] !== undefined) canary = parseDroneList('canary-drones', values['canary-drones']);
  else if (values.canary !== undefined) {
    if (!/^\d+$/.test(values.canary)) throw new UsageError(`--canary ${JSON.stringify(values.canary)}: give a number of drones`);
    canary = Number(values.canary);
    if (canary < 1) throw new UsageError('the canary cannot be skipped: --canary must be at least 1');
  }
  let version: number | undefined;
  if (values.version !== undefined) {
    if (!/^\d{1,15}$/.test(values.version) || Number(values.version) < 1) throw new UsageError(`--version ${JSON.stringify(values.version)}: give an integer ≥ 1`);
    version = Number(values.version);
  }
  const waves = usage(() => parseWaves(values.waves ?? '100%'));
  const last = waves[waves.length - 1];
  if (last?.kind === 'percent' && last.num !== last.den) throw new UsageError(`the last wave is ${last.text}: end --waves with 100%`);
  return {
    drones: values.all ? 'all' : parseDroneList('drones', values.drones!),
    canary,
    waves,
    maxFailures: usage(() => parseAmount(values['max-failures'] ?? '0')),
    ...(version !== undefined ? { version } : {}),
  };
}

function newRolloutId(now: Date): string {
  return `ro-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

/** `aimctl rollout`: canary first, then waves, halting (and rolling back) past the failure threshold. */
export async function rolloutCommand(argv: string[], io: CliIO): Promise<number> {
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (values.help) return io.out(ROLLOUT_USAGE + '\n'), EXIT_OK;
  const resume = values.resume;
  if (resume !== undefined) {
    if (positionals.length > 0) throw new UsageError(`--resume takes no CONFIG\n${ROLLOUT_USAGE}`);
    const extra = PLAN_ONLY.filter((k) => values[k] !== undefined);
    if (extra.length > 0) throw new UsageError(`--resume carries on the recorded plan; --${extra.join(', --')} cannot change it`);
  } else {
    if (values['rollback-now']) throw new UsageError('--rollback-now goes with --resume FILE');
    if (positionals.length !== 1) throw new UsageError(`expected one CONFIG\n${ROLLOUT_USAGE}`);
    if ((values.drones === undefined) === (values.all !== true)) throw new UsageError('give either --drones a,b,c or --all');
    if (values.canary !== undefined && values['canary-drones'] !== undefined) throw new UsageError('give --canary N or --canary-drones a,b, not both');
  }
  const timeoutS = values.timeout === undefined ? undefined : parseSeconds('timeout', values.timeout, 120);
  // Everything that can be a usage error is checked before anything touches the network.
  const options = resume === undefined ? planOptions(values) : undefined;
  let state: RolloutState | undefined;
  let stateFile = values.state !== undefined ? resolve(values.state) : '';
  if (resume !== undefined) {
    state = await readStateFile(resume);
    stateFile = resolve(resume);
    if (values['topic-prefix'] !== undefined && values['topic-prefix'] !== state.topicPrefix) throw new UsageError(`the roll-out ran under topic prefix ${state.topicPrefix}`);
    if (timeoutS !== undefined) state.timeoutS = timeoutS;
  }
  const broker = brokerSettings({ ...values, 'topic-prefix': state?.topicPrefix ?? values['topic-prefix'] }, io.env, state?.brokerUrl);
  const keyPath = signingKeyPath(values, io.env);
  if (options !== undefined && keyPath === undefined) throw new UsageError('no signing key: give --key PRIVATE.pem or set AIMCTL_KEY');

  // A cold MQTT client takes a few hundred ms to load and connect: overlap that with reading the files.
  const logger = groundLogger(io.env);
  const connecting = connectBroker(broker, io.signal !== undefined ? { signal: io.signal } : {});
  // It may fail while the files are still being read: handled below, not an unhandled rejection.
  connecting.catch(() => undefined);
  let plan: Plan | undefined;
  let key: KeyObject | undefined;
  try {
    if (options !== undefined) {
      const loaded = await readConfigFile(positionals[0]!, { versionOptional: true });
      const previous = values['previous-config'] === undefined ? undefined : await Promise.all(values['previous-config'].map(async (f) => (await readConfigFile(f)).config));
      plan = { ...options, config: loaded.config, ...(previous !== undefined ? { previousConfigs: previous } : {}) };
    }
    key = keyPath === undefined ? undefined : readSigningKey(keyPath);
    logger.debug({ ms: Date.now() - started }, 'options, config and key read');
  } catch (err) {
    void connecting.then((c) => c.endAsync(true), () => undefined);
    throw err;
  }
  const client: MqttClient = await connecting;
  const sign = (config: AimConfig) => {
    if (key === undefined) throw new AimError('AIM_ERR_KEY', 'a rollback has to sign configs: give --key PRIVATE.pem or set AIMCTL_KEY');
    return signConfig(config, key);
  };
  const progress: ProgressSink =
    values.json || !io.isTTY ? jsonProgress(io.out, started) : new TtyProgress(io.out, { columns: io.columns ?? 100, rows: io.rows ?? 40 });
  logger.debug({ ms: Date.now() - started }, 'connected');
  let link: FleetLink | undefined;
  try {
    const drones = plan !== undefined ? plan.drones : Object.keys(state!.drones);
    link = await FleetLink.open(client, { topicPrefix: broker.topicPrefix, drones, logger });
    logger.debug({ ms: Date.now() - started, drones: link.knownDrones().length }, 'fleet snapshot read');
    const p = plan;
    if (p !== undefined) {
      const now = new Date();
      const rolloutId = newRolloutId(now);
      const targets = p.drones === 'all' ? link.knownDrones() : p.drones;
      if (targets.length === 0) throw new AimError('AIM_ERR_ROLLOUT_HALTED', `no drones found under ${broker.topicPrefix}/+/status`);
      const l = link;
      state = usage(() =>
        prepareRollout(
          {
            rolloutId,
            brokerUrl: broker.url,
            topicPrefix: broker.topicPrefix,
            config: p.config,
            drones: targets,
            canary: p.canary,
            waves: p.waves,
            maxFailures: p.maxFailures,
            timeoutS: timeoutS ?? 120,
            dryRun: values['dry-run'] === true,
            rollback: values.rollback === true,
            skipOffline: values['skip-offline'] === true,
            now,
            ...(p.version !== undefined ? { version: p.version } : {}),
            ...(p.previousConfigs !== undefined ? { previousConfigs: p.previousConfigs } : {}),
          },
          (d) => l.view(d),
          sign,
        ),
      );
      if (values.state === undefined) stateFile = join(await ensureStateDir(io.env), `aimctl-rollout-${rolloutId}.json`);
      await writeStateFile(stateFile, state, { exclusive: true });
      logger.debug({ ms: Date.now() - started, stateFile }, 'planned and recorded');
    }
    const st = state!;
    const saver = new StateSaver(stateFile, () => st);
    link.on('connection', (s) => progress.handle({ event: 'broker', state: s }));
    progress.handle({
      event: 'start',
      rolloutId: st.rolloutId,
      stateFile,
      resumed: resume !== undefined,
      version: st.config.version,
      id: st.config.id,
      sha256: st.config.sha256,
      dryRun: st.dryRun,
      waves: st.waves,
      skipped: Object.keys(st.drones).filter((d) => st.drones[d]!.wave < 0),
      maxFailures: st.maxFailures,
      allowedFailures: st.allowedFailures,
    });
    const finished = await runRollout(
      st,
      { link, saver, emit: (e) => progress.handle(e), sign, now: Date.now, failpoint: failpoint(io), ...(io.signal !== undefined ? { signal: io.signal } : {}) },
      { rollbackNow: values['rollback-now'] === true },
    );
    if (!finished) {
      progress.handle({ event: 'interrupted', stateFile });
      io.err(`aimctl rollout: interrupted; the state is in ${stateFile}: aimctl rollout --resume ${stateFile}\n`);
      return EXIT_FAILED;
    }
    const ok = st.result === 'succeeded';
    const unknown = unknownFinal(st);
    progress.handle({ event: 'summary', rolloutId: st.rolloutId, result: st.result!, ok, stateFile, drones: summaryRows(st), unknown, stats: runStats(started, cpuAtStart) });
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 20).map((u) => `  ${u.drone}: ${u.why}`);
      if (unknown.length > 20) shown.push(`  … ${unknown.length - 20} more (see the summary)`);
      io.err(`aimctl rollout: the final state of ${unknown.length} drone(s) is not known yet (check with aimctl status):\n${shown.join('\n')}\n`);
    }
    if (!ok) {
      const why =
        st.halt !== null ? `halted at ${st.waves[st.halt.wave]?.name ?? 'wave'}: ${st.halt.reason} [AIM_ERR_ROLLOUT_HALTED]` : 'not every targeted drone applied the config (see the summary)';
      io.err(`aimctl rollout: ${st.result}: ${why}\n`);
    }
    return ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    progress.close();
    key = undefined;
    if (link !== undefined) await link.close();
    else await client.endAsync(true);
  }
}

/**
 * AIMCTL_FAILPOINT=NAME makes the roll-out stop dead at that point (a test then kills the process there,
 * as a crash would): the only way to place a crash exactly between two steps.
 */
function failpoint(io: CliIO): ((name: string) => Promise<void>) | undefined {
  const want = io.env.AIMCTL_FAILPOINT;
  if (want === undefined || want === '') return undefined;
  return (name) => {
    if (name !== want) return Promise.resolve();
    io.err(`aimctl: failpoint ${name} reached; waiting to be killed\n`);
    return new Promise<void>(() => setInterval(() => undefined, 60_000));
  };
}

function runStats(started: number, cpuAtStart: NodeJS.CpuUsage): RunStats {
  const u = process.resourceUsage();
  const since = process.cpuUsage(cpuAtStart);
  return {
    wallMs: Date.now() - started,
    commandCpuMs: Math.round((since.user + since.system) / 1000),
    cpuUserMs: Math.round(u.userCPUTime / 1000),
    cpuSystemMs: Math.round(u.systemCPUTime / 1000),
    maxRssKb: u.maxRSS,
  };
}
