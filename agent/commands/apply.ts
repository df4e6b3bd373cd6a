import { EXIT_FAILED, type CliIO } from '../cli-io.js';

/** `aim-agent apply`: placeholder until its issue lands. */
export async function applyCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('aim-agent apply: not implemented yet\n');
  return EXIT_FAILED;
}
