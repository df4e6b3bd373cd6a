// Copies the node_modules the agent bundle still needs at run time, and nothing else.
//
//   node packaging/copy-runtime.mjs SOURCE DEST [PREBUILD_GLOB ...]
//
// dist/bundle has every dependency inlined except serialport (scripts/bundle/bundle.ts): its native
// binding is found by node-gyp-build relative to its package folder. So DEST/node_modules gets the
// packages that `serialport` reaches in SOURCE/package-lock.json, resolved the way Node does
// (nested node_modules first), minus what only matters to a compiler or an editor: the binding's
// C++ sources, headers (node-addon-api), type declarations, READMEs, and the prebuilt bindings of
// other platforms. PREBUILD_GLOBs name the ones to keep, relative to bindings-cpp/prebuilds
// (`linux-x64/*glibc*`); none given keeps linux-<this arch>/ whole.
//
// Plain JavaScript on purpose: systemd/install.sh runs it on the drone, where there is no tsx.
import { cpSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const [source, dest, ...keep] = process.argv.slice(2);
if (!source || !dest) {
  process.stderr.write('usage: copy-runtime.mjs SOURCE DEST [PREBUILD_GLOB ...]\n');
  process.exit(2);
}
const ROOTS = ['serialport'];
/** Needed to compile the binding, never loaded at run time. */
const BUILD_ONLY = new Set(['node-addon-api']);
const BINDING = 'node_modules/@serialport/bindings-cpp';

const lock = JSON.parse(readFileSync(path.join(source, 'package-lock.json'), 'utf8'));
const packages = lock.packages ?? {};

/** Where Node would find `name` required from the package at `from` (a lock key). */
function resolve(from, name) {
  let dir = from;
  for (;;) {
    const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

const wanted = new Set();
const queue = ROOTS.map((r) => resolve('', r));
while (queue.length > 0) {
  const key = queue.shift();
  if (!key || wanted.has(key)) continue;
  const entry = packages[key];
  if (entry.dev || BUILD_ONLY.has(key.slice(key.lastIndexOf('node_modules/') + 13))) continue;
  wanted.add(key);
  for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) queue.push(resolve(key, dep));
}

const arch = process.arch;
const keepGlobs = (keep.length > 0 ? keep : [`linux-${arch}/*`]).map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*')}$`));
/** Files nobody loads at run time. */
const dropFile = (rel) => /(^|\/)(README|CHANGELOG|HISTORY)[^/]*$/i.test(rel) || /\.(d\.ts|d\.mts|md|map|gyp|gypi|cc|cpp|h|hpp)$/.test(rel);

let prebuilds = 0;
for (const key of [...wanted].sort()) {
  const from = path.join(source, key);
  if (!existsSync(from)) continue; // an optional package for another platform
  cpSync(from, path.join(dest, key), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (f) => {
      const rel = path.relative(from, f).split(path.sep).join('/');
      if (rel === '') return true;
      // Nested packages are lock entries of their own, copied (or not) on their own account.
      if (rel.split('/').includes('node_modules')) return false;
      if (key === BINDING) {
        if (rel === 'src' || rel.startsWith('src/')) return false;
        if (rel.startsWith('prebuilds/') && rel.split('/').length === 3) {
          const ok = keepGlobs.some((g) => g.test(rel.slice('prebuilds/'.length)));
          if (ok) prebuilds += 1;
          return ok;
        }
      }
      return !dropFile(rel);
    },
  });
}
// An empty prebuilds/<platform> folder left by the filter would only confuse node-gyp-build.
const pre = path.join(dest, BINDING, 'prebuilds');
if (existsSync(pre)) for (const d of readdirSync(pre)) if (readdirSync(path.join(pre, d)).length === 0) rmSync(path.join(pre, d), { recursive: true });
if (prebuilds === 0 && !existsSync(path.join(source, BINDING, 'build/Release'))) {
  process.stderr.write(`copy-runtime: no serialport prebuild matched ${keep.join(' ') || `linux-${arch}/*`}\n`);
  process.exit(1);
}
// A binding compiled on this machine (node-gyp, for an architecture without a prebuild) wins over prebuilds.
if (keep.length === 0 && existsSync(path.join(source, BINDING, 'build/Release'))) {
  cpSync(path.join(source, BINDING, 'build/Release'), path.join(dest, BINDING, 'build/Release'), { recursive: true, filter: (f) => !f.includes('/obj.target') && !f.endsWith('.d') });
}
process.stdout.write(`${wanted.size} packages, ${prebuilds} prebuilt binding(s)\n`);
