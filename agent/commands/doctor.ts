import { EXIT_FAILED, type CliIO } from '../cli-io.js';

/** `aim-agent doctor`: placeholder until its issue lands. */
export async function doctorCommand(_argv: string[], io: CliIO): Promise<number> {
  io.err('aim-agent doctor: not implemented yet\n');
  return EXIT_FAILED;
}
