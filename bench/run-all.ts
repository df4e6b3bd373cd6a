import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `npm run bench`: runs every bench/*.bench.ts in its own process (one at a time: this machine is noisy
// and the benches compare ratios measured within one run). Each prints one JSON line and a markdown table.
const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const f of benches) {
  process.stdout.write(`\n## ${f}\n\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', dir + f], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
