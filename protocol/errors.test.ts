import t from 'tap';
import { readFileSync } from 'node:fs';
import { AimError, ERROR_CODES, formatPathErrors, isAimError } from './errors.js';

t.test('README\'s error-code table and ERROR_CODES list the same codes', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const inReadme = new Set([...readme.matchAll(/^\|\s*`(AIM_ERR_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]));
  t.same([...inReadme].sort(), Object.keys(ERROR_CODES).sort());
});

t.test('AimError carries code, cause and details', async (t) => {
  const cause = new Error('EIO');
  const e = new AimError('AIM_ERR_STORE_IO', 'write failed', { cause, details: { file: 'x' } });
  t.ok(isAimError(e, 'AIM_ERR_STORE_IO'));
  t.notOk(isAimError(e, 'AIM_ERR_FENCED'));
  t.notOk(isAimError(new Error('x')));
  t.equal(e.cause, cause);
  t.same(e.details, { file: 'x' });
  t.equal(formatPathErrors([{ path: 'a.b', message: 'bad' }, { path: '$', message: 'worse' }]), 'a.b: bad\n$: worse');
});
