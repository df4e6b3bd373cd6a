import t from 'tap';
import { readFileSync } from 'node:fs';
import { AGENT_VERSION } from './version.js';

t.test('AGENT_VERSION matches package.json', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  t.equal(AGENT_VERSION, pkg.version);
});
