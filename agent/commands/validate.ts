import { readFileSync } from 'node:fs';
import { configToFcParams, fileProblem, parseAimConfig, verifyEnvelope, type PathError } from '../../protocol/index.js';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommandArgs, COMMON_OPTIONS, type CliIO } from '../cli-io.js';
import { commandSettings, loadTrustedKeyFiles } from './common.js';

const USAGE = `usage: aim-agent validate FILE [--trust PUBKEY.pem ...] [--settings FILE] [--json]
  trusted keys: --trust, plus the settings' security.trustedKeys (--settings FILE, or
  /etc/aim-agent/agent.json when it exists); with any, a JWS must verify against one of them.`;

/**
 * `aim-agent validate FILE`: a plain aim-config or a JWS, judged as the agent would. With trusted keys
 * (--trust or the settings'), a JWS must verify against one of them and a plain document needs
 * `requireSignature: false`; without any, the payload is validated and the signature reported as not checked.
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
  const settings = commandSettings(values, false);
  const trustFiles = [...(settings?.security.trustedKeys ?? []), ...(values.trust ?? [])];
  const trusted = loadTrustedKeyFiles(trustFiles);
  const signatureRequired = (values.trust?.length ?? 0) > 0 || settings?.security.requireSignature === true;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return report([{ path: file, message: fileProblem(err) }], { code: 'AIM_ERR_INVALID' });
  }
  let payload: Buffer = bytes;
  let signature = 'none (plain document)';
  if (!/^\s*\{/.test(bytes.subarray(0, 64).toString('latin1').replace(/^\u00ef\u00bb\u00bf/, ''))) {
    // A JWS: verify when keys were given, otherwise read it with the signature unchecked.
    const env = verifyEnvelope(bytes, trusted, { requireSignature: true });
    if (env.ok) {
      payload = env.payload;
      signature = env.signed ? `verified (kid ${env.kid})` : signature;
    } else if (trusted.size === 0 && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(bytes.toString('latin1').trim())) {
      payload = Buffer.from(bytes.toString('latin1').trim().split('.')[1]!, 'base64url');
      signature = 'not checked (give --trust PUBKEY to verify)';
    } else {
      return report(env.errors);
    }
  } else if (signatureRequired) {
    const why = (values.trust?.length ?? 0) > 0 ? '--trust asks for a signature' : 'the settings require one (security.requireSignature)';
    return report([{ path: '$', message: `unsigned document, but ${why}` }]);
  }
  const result = parseAimConfig(payload);
  if (!result.ok) return report(result.errors);
  const { config, sha256 } = result;
  const params = configToFcParams(config).length;
  if (values.json) io.out(JSON.stringify({ file, valid: true, id: config.id, version: config.version, params, sha256, signature }) + '\n');
  else io.out(`valid: id=${config.id} version=${config.version} params=${params} sha256=${sha256} signature=${signature}\n`);
  return EXIT_OK;
}
