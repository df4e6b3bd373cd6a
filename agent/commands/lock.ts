import { EXIT_FAILED, type CliIO } from '../cli-io.js';

/** `aim-agent lock`: placeholder until its issue lands. */
export async function lockCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('aim-agent lock: not implemented yet\n');
  return EXIT_FAILED;
}
