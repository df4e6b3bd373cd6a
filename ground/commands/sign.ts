import { writeFile } from 'node:fs/promises';
import { EXIT_OK, UsageError, parseCommandArgs, type CliIO } from '../cli-io.js';
import { readConfigFile, signConfig, withVersion } from '../config-io.js';
import { KEY_OPTION, requireSigningKey } from '../options.js';

const USAGE = `usage: aimctl sign CONFIG --key PRIVATE.pem [--version N] [--out FILE]
  validates CONFIG (plain JSON, or a JWS to re-sign) and prints the JWS (or writes it to FILE)`;

/** `aimctl sign CONFIG`: the compact JWS agents accept; exit 1 with `path: message` lines when invalid. */
export async function signCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...KEY_OPTION, version: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length !== 1) throw new UsageError(`expected one CONFIG\n${USAGE}`);
  if (values.version !== undefined && (!/^\d{1,15}$/.test(values.version) || Number(values.version) < 1)) throw new UsageError(`--version ${JSON.stringify(values.version)}: give an integer ≥ 1`);
  const key = requireSigningKey(values, io.env);
  const { config, versionGiven } = await readConfigFile(positionals[0]!, { versionOptional: values.version !== undefined });
  if (versionGiven === false && values.version === undefined) throw new UsageError('the config has no version: give --version N');
  const signed = signConfig(values.version === undefined ? config : withVersion(config, Number(values.version)), key);
  if (values.out !== undefined) {
    await writeFile(values.out, signed.jws + '\n');
    io.err(`signed ${signed.id} version ${signed.version} sha256 ${signed.sha256} → ${values.out}\n`);
  } else io.out(signed.jws + '\n');
  return EXIT_OK;
}
