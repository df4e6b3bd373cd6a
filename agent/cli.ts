import { EXIT_USAGE, processIO, type CliIO } from './cli-io.js';
import { cliErrorExit } from '../protocol/cli-errors.js';
import { AGENT_VERSION } from './version.js';

type Command = (argv: string[], io: CliIO) => Promise<number>;

// Loaded on demand so `aim-agent validate` does not pay for MQTT and MAVLink start-up.
const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  lock: async () => (await import('./commands/lock.js')).lockCommand,
  apply: async () => (await import('./commands/apply.js')).applyCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  'check-settings': async () => (await import('./commands/check-settings.js')).checkSettingsCommand,
};

const USAGE = `usage: aim-agent <command> [options]

commands:
  run [--settings FILE]                         the service
  apply FILE --fc LINK --state-dir DIR [--allow-unsigned]
                                                apply one config locally, print the ack as JSON
  validate FILE [--trust PUBKEY ...] [--json]   check a config (plain or JWS)
  lock status|break [--force] [--json]          show or break the aim lock
  lock run [--timeout S] -- CMD ARGS...         hold the lock while CMD runs
  doctor                                        check lock, aim file, FC drift, broker
  check-settings [--settings FILE]              check settings and the key files they name (systemctl reload runs it)

every command takes --settings FILE (default /etc/aim-agent/agent.json) and --state-dir DIR
`;

/** Entry point: dispatch to a command and map its outcome to DESIGN.md's exit codes (0 ok, 1 failed, 2 usage). */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(USAGE);
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === '--version') {
    io.out(`${AGENT_VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    io.err(`aim-agent: unknown command '${name}'\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    return await (await load())(rest, io);
  } catch (err) {
    return cliErrorExit(`aim-agent ${name}`, err, io.err);
  }
}
