import { cliErrorExit } from '../protocol/index.js';
import { EXIT_USAGE, type CliIO } from './cli-io.js';
import { AIMCTL_VERSION } from './version.js';

type Command = (argv: string[], io: CliIO) => Promise<number>;

// Loaded on demand so `aimctl keygen` and `sign` do not pay for MQTT start-up.
const COMMANDS: Record<string, () => Promise<Command>> = {
  keygen: async () => (await import('./commands/keygen.js')).keygenCommand,
  sign: async () => (await import('./commands/sign.js')).signCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  rollout: async () => (await import('./commands/rollout.js')).rolloutCommand,
};

const USAGE = `usage: aimctl <command> [options]

commands:
  keygen --out BASENAME                          an Ed25519 signing key pair (private key 0600)
  sign CONFIG --key PRIVATE.pem                  print the signed config (JWS)
  push CONFIG --drone ID                         publish to one drone, wait for its ack; exit by status
  status [--drones a,b] [--listen S]             fleet table from retained status and reported
  rollout CONFIG (--drones a,b,c | --all) --canary N --waves 10%,50%,100% --max-failures N|P%
          --timeout S [--dry-run] [--rollback]   canary first, then waves; halts on failure
  rollout --resume FILE [--rollback-now]         carry on (or roll back) an interrupted roll-out

broker options: --broker URL (AIMCTL_BROKER), --topic-prefix P, --username U, --password-file F,
                --ca F, --cert F, --client-key F;  signing key: --key PRIVATE.pem (AIMCTL_KEY)
--version prints aimctl's version
exit codes: 0 success, 1 refused or failed (reason on stderr), 2 usage error
'aimctl <command> --help' for a command's options
`;

/** Entry point: dispatch to a command and map its outcome to DESIGN.md's exit codes (0 ok, 1 failed, 2 usage). */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(USAGE);
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`aimctl ${AIMCTL_VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    io.err(`aimctl: unknown command '${name}'\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    return await (await load())(rest, io);
  } catch (err) {
    return cliErrorExit(`aimctl ${name}`, err, io.err);
  }
}
