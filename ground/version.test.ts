import t from 'tap';
import { readFileSync } from 'node:fs';
import { aimctl } from './test-helpers/harness.js';
import { AIMCTL_VERSION } from './version.js';

t.test('aimctl --version prints the version in package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  t.equal(AIMCTL_VERSION, pkg.version);
  for (const flag of ['--version', '-V', 'version']) {
    const run = await aimctl([flag]);
    t.equal(run.code, 0, flag);
    t.equal(run.out, `aimctl ${pkg.version}\n`, flag);
  }
});
