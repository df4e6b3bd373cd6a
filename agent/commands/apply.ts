import { readFileSync } from 'node:fs';
import type { Ack } from '../../protocol/index.js';
import { COMMON_OPTIONS, EXIT_FAILED, EXIT_OK, parseCommandArgs, UsageError, type CliIO } from '../cli-io.js';
import { configToFcParams } from '../../protocol/index.js';
import { openFcLink, type FcLink } from '../fc/index.js';
import { intake, type IntakeContext } from '../pipeline/intake.js';
import { createLogger, silentLogger } from '../log.js';
import { ApplyPipeline } from '../pipeline/pipeline.js';
import type { LockPort } from '../pipeline/ports.js';
import { loadTrustedKeys } from '../service.js';
import { DEFAULT_STATE_DIR } from '../settings.js';
import { AimStore, Locksmith } from '../store/index.js';
import { commandSettings } from './common.js';

const USAGE = `usage: aim-agent apply FILE --fc LINK [--state-dir DIR] [--allow-unsigned] [--trust PUBKEY.pem ...] [--drone ID] [--verbose]
  FILE is a JWS or a plain aim-config (plain needs --allow-unsigned when signatures are required).
  Under \`aim-agent lock run\` (AIM_LOCK_TOKEN set) it works under that lock instead of taking it.
  Prints the ack as JSON; exit 0 for applied, duplicate and dry-run.`;

/** `aim-agent apply`: the service's pipeline and lock, without MQTT, for field benches. */
export async function applyCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...COMMON_OPTIONS,
    fc: { type: 'string' },
    'allow-unsigned': { type: 'boolean' },
    trust: { type: 'string', multiple: true },
    drone: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length !== 1) throw new UsageError(`expected one FILE\n${USAGE}`);
  // With --fc and --state-dir no settings file is needed; otherwise settings fill the gaps.
  const settings = values.fc !== undefined && values['state-dir'] !== undefined && values.settings === undefined ? undefined : commandSettings(values, values.fc === undefined);
  const link = values.fc ?? settings?.fc.link;
  if (link === undefined) throw new UsageError(`--fc LINK is required without a settings file\n${USAGE}`);
  const stateDir = values['state-dir'] ?? settings?.stateDir ?? DEFAULT_STATE_DIR;
  let raw: Buffer;
  try {
    raw = readFileSync(positionals[0]!);
  } catch (err) {
    io.err(`${positionals[0]}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
    return EXIT_FAILED;
  }
  const log = values.verbose ? createLogger({ destination: process.stderr as unknown as import('pino').DestinationStream }) : silentLogger();
  const trusted = loadTrustedKeys([...(settings?.security.trustedKeys ?? []), ...(values.trust ?? [])]);
  const requireSignature = values['allow-unsigned'] ? false : (settings?.security.requireSignature ?? true);

  // The link opens first, so connecting and the FC's first answers overlap the rest of the start-up.
  // Run by `aim-agent lock run`: the lock is already ours (the parent holds it); taking it again would wait forever.
  const inherited = lockTokenFromEnv(io.env.AIM_LOCK_TOKEN);
  const fc = await openFcLink(link, { logger: log });
  let locksmith: Locksmith | undefined;
  try {
    const store = new AimStore({ stateDir, logger: log });
    await store.init();
    const smith = (locksmith = new Locksmith({ stateDir, ttlMs: (settings?.lock.ttlS ?? 10) * 1000, logger: log, command: 'aim-agent apply' }));
    await smith.reclaimStale();
    const lock: LockPort = inherited === undefined ? smith : { acquire: () => smith.borrow(inherited) };
    const pipeline = new ApplyPipeline({
      droneId: values.drone ?? settings?.droneId ?? 'local',
      trusted,
      requireSignature,
      fc,
      store,
      lock,
      logger: log,
      lockTimeoutMs: (settings?.lock.acquireTimeoutS ?? 30) * 1000,
      paramTimeoutMs: settings?.fc.paramTimeoutMs ?? 1000,
      paramRetries: settings?.fc.paramRetries ?? 3,
      linkWaitMs: 10_000,
    });
    const acks: Ack[] = [];
    pipeline.on('ack', (ack) => {
      acks.push(ack);
      if (ack.status === 'deferred') io.err(`deferred: ${ack.reason ?? ''}\n`);
    });
    await prefetch(fc, raw, { trusted, requireSignature, droneId: values.drone ?? settings?.droneId ?? 'local', now: Date.now() });
    pipeline.submit(raw);
    await pipeline.idle();
    const final = acks[acks.length - 1];
    if (final === undefined) {
      io.err('no ack was produced\n');
      return EXIT_FAILED;
    }
    io.out(JSON.stringify(final, null, 2) + '\n');
    for (const e of final.errors) io.err(`${e.path}: ${e.message}\n`);
    return final.status === 'applied' || final.status === 'duplicate' || final.status === 'dry-run' ? EXIT_OK : EXIT_FAILED;
  } finally {
    await locksmith?.close();
    await fc.close();
  }
}

/**
 * Read the config's parameters as soon as the FC is up, before the pipeline asks: the pipeline then
 * finds every value cached since the link came up and skips its own read (the service's path with a
 * warm cache). ArduPilot answers reads five per ~100 ms, so this read is most of a one-shot apply; here
 * it starts the moment the link is up. Any failure only means the pipeline reads for itself.
 */
async function prefetch(fc: FcLink, raw: Buffer, ctx: IntakeContext): Promise<void> {
  const checked = intake(raw, ctx);
  if (!('config' in checked) || checked.config.apply?.dryRun === true) return;
  const names = configToFcParams(checked.config).map((p) => p.name);
  if (names.length === 0) return;
  try {
    await fc.waitForVehicle({ timeoutMs: 10_000 });
    await fc.params.getMany(names);
  } catch {
    // The pipeline reads again and reports what it finds.
  }
}

function lockTokenFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new UsageError(`AIM_LOCK_TOKEN must be a lock token (a positive integer), got ${JSON.stringify(value)}`);
  return Number(value);
}
