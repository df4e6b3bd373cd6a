import { randomBytes } from 'node:crypto';
import { AimError, type Ack } from '../../protocol/index.js';
import { connectBroker } from '../broker.js';
import { EXIT_FAILED, EXIT_OK, UsageError, checkDroneId, parseCommandArgs, parseSeconds, type CliIO } from '../cli-io.js';
import { isDryRun, readConfigFile, signConfig, withVersion, type SignedConfig } from '../config-io.js';
import { FleetLink, correlationFor } from '../fleet-link.js';
import { groundLogger } from '../log.js';
import { BROKER_OPTIONS, KEY_OPTION, brokerSettings, requireSigningKey } from '../options.js';
import { watchDrones } from '../rollout/watch.js';

const USAGE = `usage: aimctl push CONFIG --drone ID [--version N|auto] [--timeout S] --key PRIVATE.pem --broker URL
  publishes CONFIG to one drone (retained; a dry run is not retained) and prints its acks as JSON lines.
  CONFIG is plain JSON (signed with --key) or a JWS (published as is unless --version asks to re-sign).
  --version auto: one above the highest version the drone has.  A deferred ack waits for the final one.
exit: 0 applied, duplicate or dry-run; 1 rejected, failed, superseded or no ack before --timeout (default 60); 2 usage`;

const SUCCESS = new Set<Ack['status']>(['applied', 'duplicate', 'dry-run']);

/** `aimctl push CONFIG --drone ID`: one drone, no canary; the exit code follows the final ack. */
export async function pushCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...BROKER_OPTIONS,
    ...KEY_OPTION,
    drone: { type: 'string' },
    version: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length !== 1) throw new UsageError(`expected one CONFIG\n${USAGE}`);
  if (values.drone === undefined) throw new UsageError(`give --drone ID\n${USAGE}`);
  const drone = checkDroneId('drone', values.drone);
  if (values.version !== undefined && values.version !== 'auto' && (!/^\d{1,15}$/.test(values.version) || Number(values.version) < 1)) {
    throw new UsageError(`--version ${JSON.stringify(values.version)}: give an integer ≥ 1 or auto`);
  }
  const timeoutS = parseSeconds('timeout', values.timeout, 60);
  const broker = brokerSettings(values, io.env);
  const loaded = await readConfigFile(positionals[0]!, { versionOptional: true });
  // A plain config without a version gets the next one, as with --version auto.
  const versionArg = values.version ?? (loaded.versionGiven === false ? 'auto' : undefined);
  const resign = loaded.jws === undefined || values.version !== undefined;
  const key = resign ? requireSigningKey(values, io.env) : undefined;

  const logger = groundLogger(io.env);
  const client = await connectBroker(broker, io.signal !== undefined ? { signal: io.signal } : {});
  const link = await FleetLink.open(client, { topicPrefix: broker.topicPrefix, drones: [drone], logger }).catch(async (err: unknown) => {
    await client.endAsync(true);
    throw err;
  });
  try {
    const view = link.view(drone);
    let signed: SignedConfig;
    if (!resign) signed = { version: loaded.config.version, id: loaded.config.id, sha256: loaded.sha256, jws: loaded.jws! };
    else {
      const version =
        versionArg === 'auto'
          ? Math.max(view.reported?.version ?? 0, view.status?.appliedVersion ?? 0, view.desired?.config.version ?? 0) + 1
          : versionArg !== undefined
            ? Number(versionArg)
            : loaded.config.version;
      signed = signConfig(withVersion(loaded.config, version), key!);
    }
    const dryRun = isDryRun(loaded.config);
    if (view.status === undefined || view.status.state === 'offline') {
      io.err(`aimctl push: ${drone} is offline; ${dryRun ? 'the dry run is queued in its session' : 'the config stays retained'} and is applied when it reconnects\n`);
    }
    const correlation = correlationFor(`push-${randomBytes(4).toString('hex')}`, drone, signed.version);
    let last: Ack | undefined;
    const result = await watchDrones(
      link,
      new Map([[drone, { version: signed.version, sha256: signed.sha256, correlation, acceptReported: false }]]),
      () => link.publishDesired(drone, signed.jws, { retain: !dryRun, correlation }),
      {
        now: Date.now,
        deadlineMs: Date.now() + timeoutS * 1000,
        ...(io.signal !== undefined ? { signal: io.signal } : {}),
        observe(_d, obs) {
          if (obs.via !== 'ack') return true;
          // The same ack may come twice (ack topic and response topic).
          if (last !== undefined && last.status === obs.ack.status && last.at === obs.ack.at) return false;
          last = obs.ack;
          io.out(JSON.stringify({ drone, ...obs.ack }) + '\n');
          return obs.ack.status !== 'deferred';
        },
      },
    );
    if (result === 'aborted') throw new AimError('AIM_ERR_ABORTED', 'interrupted before the final ack');
    if (result === 'timeout') {
      io.err(`aimctl push: ${drone}: ${last?.status === 'deferred' ? 'still deferred' : 'no ack'} after ${timeoutS} s; the config stays retained\n`);
      return EXIT_FAILED;
    }
    if (last === undefined || !SUCCESS.has(last.status)) {
      io.err(`aimctl push: ${drone}: ${last?.status ?? 'no ack'}${last?.reason ? `: ${last.reason}` : ''}${last?.code ? ` [${last.code}]` : ''}\n`);
      return EXIT_FAILED;
    }
    return EXIT_OK;
  } finally {
    await link.close();
  }
}
