import { EXIT_FAILED, type CliIO } from '../cli-io.js';

/** `aim-agent run`: placeholder until its issue lands. */
export async function runCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('aim-agent run: not implemented yet\n');
  return EXIT_FAILED;
}
