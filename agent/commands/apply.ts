import { configToFcParams, readNamedFile, type Ack } from '../../protocol/index.js';
import { COMMON_OPTIONS, EXIT_FAILED, EXIT_OK, parseCommandArgs, UsageError, type CliIO } from '../cli-io.js';
import { openFcLink, type FcLink } from '../fc/index.js';
import { parseLinkString } from '../fc/link-string.js';
import { createLogger, silentLogger } from '../log.js';
import { intake, type IntakeContext } from '../pipeline/intake.js';
import { ApplyPipeline } from '../pipeline/pipeline.js';
import type { LockPort } from '../pipeline/ports.js';
import { DEFAULT_SETTINGS_PATH } from '../settings.js';
import { AimStore, Locksmith } from '../store/index.js';
import { commandSettings, loadTrustedKeyFiles } from './common.js';
import { fcSigningOptions } from './fc-signing.js';

const USAGE = `usage: aim-agent apply FILE --fc LINK --state-dir DIR [--allow-unsigned] [--trust PUBKEY.pem ...] [--drone ID] [--verbose]
       aim-agent apply FILE [--settings FILE] [--fc LINK] [--state-dir DIR] ...
  FILE is a JWS or a plain aim-config (plain needs --allow-unsigned when signatures are required).
  The state directory is --state-dir, or the settings' stateDir (${DEFAULT_SETTINGS_PATH} or --settings);
  without either it is a usage error, never a silent default. Where it writes is said on stderr.
  Under \`aim-agent lock run\` (AIM_LOCK_CAPABILITY set) it works under that lock instead of taking it.
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
  // Before anything is created: a bad link is a usage error that leaves no state dir behind.
  parseLinkString(link);
  // No silent default: run as root, a default would create the service's directory with root-owned files.
  const stateDir = values['state-dir'] ?? settings?.stateDir;
  if (stateDir === undefined) throw new UsageError(`--state-dir DIR is required without a settings file\n${USAGE}`);
  if (values['state-dir'] === undefined) io.err(`aim-agent apply: state directory ${stateDir} (from ${values.settings ?? DEFAULT_SETTINGS_PATH})\n`);
  const raw = readNamedFile(positionals[0]!, 'AIM_ERR_INVALID');
  const log = values.verbose ? createLogger({ destination: process.stderr as unknown as import('pino').DestinationStream }) : silentLogger();
  const trusted = loadTrustedKeyFiles([...(settings?.security.trustedKeys ?? []), ...(values.trust ?? [])]);
  const requireSignature = values['allow-unsigned'] ? false : (settings?.security.requireSignature ?? true);

  // The link opens first, so connecting and the FC's first answers overlap the rest of the start-up.
  const fc = await openFcLink(link, { logger: log, ...fcSigningOptions(settings?.fc) });
  let locksmith: Locksmith | undefined;
  try {
    const store = new AimStore({ stateDir, logger: log });
    await store.init();
    const smith = (locksmith = new Locksmith({ stateDir, ttlMs: (settings?.lock.ttlS ?? 10) * 1000, logger: log, command: 'aim-agent apply' }));
    await smith.reclaimStale();
    // Run by `aim-agent lock run`: the lock is already ours (the parent holds it); taking it again would
    // wait forever. Only the parent's secret capability hands it over; AIM_LOCK_TOKEN is public and grants nothing.
    const capability = io.env.AIM_LOCK_CAPABILITY;
    const lock: LockPort = capability === undefined || capability === '' ? smith : { acquire: () => smith.borrow(capability) };
    const pipeline = new ApplyPipeline({
      droneId: values.drone ?? settings?.droneId ?? 'local',
      trusted,
      requireSignature,
      fc,
      store,
      lock,
      logger: log,
      lockTimeoutMs: (settings?.lock.acquireTimeoutS ?? 30) * 1000,
      lockTtlMs: (settings?.lock.ttlS ?? 10) * 1000,
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
    const ok = final.status === 'applied' || final.status === 'duplicate' || final.status === 'dry-run';
    if (!ok) {
      const stage = final.stage !== undefined ? ` at ${final.stage}` : '';
      io.err(`aim-agent apply: ${final.status}${stage}: ${final.reason ?? 'no reason given'}${final.code !== undefined ? ` [${final.code}]` : ''}\n`);
    }
    for (const e of final.errors) io.err(`${e.path}: ${e.message}\n`);
    return ok ? EXIT_OK : EXIT_FAILED;
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
