#!/usr/bin/env node
import { main } from '../cli.js';

// Ctrl-C / SIGTERM abort the command: a roll-out saves its state and prints how to resume. A second
// signal exits at once.
const controller = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (controller.signal.aborted) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await main(process.argv.slice(2), {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
  columns: process.stdout.columns ?? 100,
  rows: process.stdout.rows ?? 40,
  signal: controller.signal,
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
