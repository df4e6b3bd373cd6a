import { open } from 'node:fs/promises';
import { generateKeyPair } from '../../protocol/index.js';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommandArgs, type CliIO } from '../cli-io.js';
import { gitWorkTree } from '../state-dir.js';

const USAGE = `usage: aimctl keygen --out BASENAME [--force] [--json]
  writes BASENAME.key.pem (Ed25519 private key, PKCS#8, mode 0600) and BASENAME.pub.pem (SPKI)
  and prints the key id (RFC 7638 thumbprint) the agents will see as the JWS kid.
  Refuses to write inside a git work tree (one 'git add -A' from publishing the key) unless --force;
  --force also replaces existing files.`;

async function writeFile(path: string, text: string, mode: number, force: boolean): Promise<void> {
  const fh = await open(path, force ? 'w' : 'wx', mode);
  try {
    // The mode given to open() is filtered by umask and ignored for an existing file: set it outright.
    await fh.chmod(mode);
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `aimctl keygen`: a new signing key pair; refuses to overwrite existing files unless --force. */
export async function keygenCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0 || values.out === undefined || values.out === '') throw new UsageError(`give --out BASENAME\n${USAGE}`);
  const pair = generateKeyPair();
  const privatePath = `${values.out}.key.pem`;
  const publicPath = `${values.out}.pub.pem`;
  const repo = values.force === true ? undefined : await gitWorkTree(privatePath);
  if (repo !== undefined) {
    io.err(
      `aimctl keygen: ${privatePath} is inside the git work tree ${repo}: a private key there is easily committed. ` +
        `Write it elsewhere (e.g. --out ~/.config/aimctl/keys/${values.out.split('/').pop()}) or give --force [AIM_ERR_KEY]\n`,
    );
    return EXIT_FAILED;
  }
  try {
    await writeFile(privatePath, pair.privatePem, 0o600, values.force === true);
    await writeFile(publicPath, pair.publicPem, 0o644, values.force === true);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.err(`aimctl keygen: ${code === 'EEXIST' ? `${(err as NodeJS.ErrnoException).path ?? values.out} exists; use --force to replace it` : (err as Error).message} [AIM_ERR_KEY]\n`);
    return EXIT_FAILED;
  }
  if (values.json) io.out(JSON.stringify({ kid: pair.kid, private: privatePath, public: publicPath }) + '\n');
  else io.out(`kid ${pair.kid}\nprivate key ${privatePath} (0600: keep it on the ground)\npublic key  ${publicPath} (list it in the agents' security.trustedKeys)\n`);
  return EXIT_OK;
}
