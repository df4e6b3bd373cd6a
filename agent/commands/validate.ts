import { readFileSync } from 'node:fs';
import {
  configToFcParams,
  loadPublicKey,
  parseAimConfig,
  trustStore,
  verifyEnvelope,
  type PathError,
} from '../../protocol/index.js';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommandArgs, COMMON_OPTIONS, type CliIO } from '../cli-io.js';

const USAGE = 'usage: aim-agent validate FILE [--trust PUBKEY.pem ...] [--json]';

/**
 * `aim-agent validate FILE`: a plain aim-config or a JWS. With --trust, a JWS must verify against one
 * of those keys; without, its payload is validated and the signature reported as not checked.
 */
export async function validateCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...COMMON_OPTIONS, trust: { type: 'string', multiple: true }, json: { type: 'boolean' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length !== 1) throw new UsageError(`expected one FILE\n${USAGE}`);
  const file = positionals[0]!;
  const report = (errors: PathError[], extra: Record<string, unknown> = {}): number => {
    if (values.json) io.out(JSON.stringify({ file, valid: false, errors, ...extra }) + '\n');
    for (const e of errors) io.err(`${e.path}: ${e.message}\n`);
    return EXIT_FAILED;
  };
  const trustFiles = values.trust ?? [];
  const keys = trustFiles.map((f) => {
    try {
      return loadPublicKey(readFileSync(f), f);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  });
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return report([{ path: '$', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  let payload: Buffer = bytes;
  let signature = 'none (plain document)';
  if (!/^\s*\{/.test(bytes.subarray(0, 64).toString('latin1').replace(/^\u00ef\u00bb\u00bf/, ''))) {
    // A JWS: verify when keys were given, otherwise read it with the signature unchecked.
    const trusted = trustStore(keys, trustFiles);
    const env = verifyEnvelope(bytes, trusted, { requireSignature: true });
    if (env.ok) {
      payload = env.payload;
      signature = env.signed ? `verified (kid ${env.kid})` : signature;
    } else if (keys.length === 0 && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(bytes.toString('latin1').trim())) {
      payload = Buffer.from(bytes.toString('latin1').trim().split('.')[1]!, 'base64url');
      signature = 'not checked (give --trust PUBKEY to verify)';
    } else {
      return report(env.errors);
    }
  } else if (keys.length > 0) {
    return report([{ path: '$', message: 'unsigned document, but --trust asks for a signature' }]);
  }
  const result = parseAimConfig(payload);
  if (!result.ok) return report(result.errors);
  const { config, sha256 } = result;
  const params = configToFcParams(config).length;
  if (values.json) io.out(JSON.stringify({ file, valid: true, id: config.id, version: config.version, params, sha256, signature }) + '\n');
  else io.out(`valid: id=${config.id} version=${config.version} params=${params} sha256=${sha256} signature=${signature}\n`);
  return EXIT_OK;
}
