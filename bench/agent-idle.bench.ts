// The agent as systemd runs it (the installed launcher's command line: node flags and dist/bundle, a real
// process): start-to-ready (spawn → first retained `online` status on the broker) and idle RSS after it
// settles. Targets: ≤ 0.5 s and ≤ 60 MB. Needs `npm run build` first. AIM_AGENT_BIN=dist/agent/bin/aim-agent.js
// measures the unbundled build instead, for comparison.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { topicFor } from '../protocol/index.js';
import { startEmbeddedBroker } from '../sim/embedded-broker.js';
import { startFcSim } from '../sim/index.js';
import { launcherCommand } from '../test/support/launcher.js';
import { stats, table } from './report.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SETTLE_MS = 3000;
const launcher = launcherCommand();
const bin = process.env.AIM_AGENT_BIN ?? launcher.script;
const NODE_FLAGS = launcher.nodeFlags;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  if (!existsSync(bin)) throw new Error(`${bin} missing: run npm run build`);
  const dir = mkdtempSync(join(tmpdir(), 'aim-bench-idle-'));
  const broker = await startEmbeddedBroker();
  const fc = await startFcSim({ link: 'tcp:127.0.0.1:0' });
  const ground = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'bench-idle-ground' });
  const readyMs: number[] = [];
  const rss: number[] = [];
  let child: ChildProcess | undefined;
  try {
    for (let i = 0; i < RUNS; i++) {
      const droneId = `idle-${i}`;
      const settings = join(dir, `agent-${i}.json`);
      writeFileSync(settings, JSON.stringify({ droneId, broker: { url: broker.url, protocolVersion: 4 }, fc: { link: fc.link }, stateDir: join(dir, `state-${i}`), logLevel: 'warn' }));
      const online = new Promise<number>((resolve) => {
        const onMsg = (topic: string, payload: Buffer) => {
          if (topic === topicFor(droneId, 'status') && (JSON.parse(payload.toString()) as { state: string }).state === 'online') {
            ground.off('message', onMsg);
            resolve(performance.now());
          }
        };
        ground.on('message', onMsg);
      });
      await ground.subscribeAsync(topicFor(droneId, 'status'), { qos: 1 });
      const t0 = performance.now();
      child = spawn(process.execPath, [...NODE_FLAGS, bin, 'run', '--settings', settings], { stdio: 'ignore' });
      readyMs.push((await online) - t0);
      await new Promise((r) => setTimeout(r, SETTLE_MS)); // idle on purpose: RSS after start-up settles
      rss.push(rssMb(child.pid!));
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      child = undefined;
    }
  } finally {
    child?.kill('SIGKILL');
    await ground.endAsync();
    await fc.stop();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const r = stats(readyMs);
  const m = stats(rss);
  const result = { bench: 'agent-idle', runs: RUNS, script: bin.replace(/^.*\/dist\//, 'dist/'), nodeFlags: NODE_FLAGS, startToReadyMedianMs: r.median, startToReadyP95Ms: r.p95, idleRssMedianMb: m.median, idleRssMaxMb: m.max, pass: r.median <= 500 && m.median <= 60 };
  process.stdout.write(JSON.stringify(result) + '\n\n');
  process.stdout.write(
    table(
      ['measure', 'median', 'max', 'target'],
      [
        ['start → first online status', `${r.median.toFixed(0)} ms`, `${r.max.toFixed(0)} ms`, '≤ 500 ms'],
        ['idle RSS', `${m.median.toFixed(1)} MB`, `${m.max.toFixed(1)} MB`, '≤ 60 MB'],
      ],
    ),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`agent-idle bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
