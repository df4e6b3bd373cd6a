import { build, type Plugin } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * dist/bundle/: the agent as the installed launcher runs it (packaging/layout.sh). One ESM file per
 * command, split so `run` loads the FC link only after the broker session has started, and
 * mavlink-mappings cut down to its core (./mavlink-mappings-core.cjs). Why: Node resolving and
 * compiling ~400 small module files is most of the agent's start time and a large share of its idle
 * memory on a Pi. serialport stays outside: its native binding is found at run time in node_modules.
 *
 * Tests run the unbundled dist/ (coverage maps to the sources); agent/bundle.test.ts runs this bundle
 * end to end.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const outdir = `${root}dist/bundle`;

// Only the bare `mavlink-mappings` import is replaced; its deep imports in the shim resolve normally.
const mavlinkCore: Plugin = {
  name: 'mavlink-mappings-core',
  setup(b) {
    b.onResolve({ filter: /^mavlink-mappings$/ }, () => ({ path: fileURLToPath(new URL('./mavlink-mappings-core.cjs', import.meta.url)) }));
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'aim-agent': 'agent/bin/aim-agent.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['serialport'],
  plugins: [mavlinkCore],
  // Whitespace and syntax only: names stay readable in stack traces in the journal.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // CommonJS dependencies inside an ESM bundle call require() for Node built-ins.
  banner: { js: "import { createRequire as __aimRequire } from 'node:module'; const require = __aimRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
// What went into the bundle, for `npx esbuild --analyze`-style reading (https://esbuild.github.io/analyze/).
writeFileSync(`${root}dist/bundle-meta.json`, JSON.stringify(result.metafile));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`bundle: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KiB in dist/bundle\n`);
