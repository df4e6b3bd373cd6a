#!/usr/bin/env node
import { runFcSim } from '../cli.js';

process.exitCode = await runFcSim(process.argv.slice(2));
