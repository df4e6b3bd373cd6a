import { parseArgs } from 'node:util';

/** Shared bench output: summary statistics and a markdown table. */
export function stats(xs: readonly number[]): { median: number; p95: number; min: number; max: number; mean: number } {
  if (xs.length === 0) return { median: NaN, p95: NaN, min: NaN, max: NaN, mean: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  return { median: round(q(0.5)), p95: round(q(0.95)), min: round(s[0]!), max: round(s[s.length - 1]!), mean: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

/** The FC target a bench runs on: `--fc sim|sitl|all` (default sim); undefined after printing why when it is neither. */
export function fcTarget(): 'sim' | 'sitl' | 'all' | undefined {
  const { values } = parseArgs({ options: { fc: { type: 'string', default: 'sim' } } });
  const fc = values.fc ?? 'sim';
  if (fc === 'sim' || fc === 'sitl' || fc === 'all') return fc;
  process.stderr.write(`--fc sim|sitl|all, got ${fc}\n`);
  return undefined;
}
