import mqtt from 'mqtt';
import { configToFcParams, topicFor } from '../../protocol/index.js';
import { COMMON_OPTIONS, EXIT_FAILED, EXIT_OK, parseCommandArgs, UsageError, type CliIO } from '../cli-io.js';
import { openFcLink } from '../fc/index.js';
import { silentLogger } from '../log.js';
import { diffEntry } from '../pipeline/diff.js';
import { DEFAULT_STATE_DIR, type Settings } from '../settings.js';
import { AimStore, Locksmith } from '../store/index.js';
import { brokerClientOptions } from '../mqtt/broker-options.js';
import { commandSettings, existingStateDir } from './common.js';

const USAGE = 'usage: aim-agent doctor [--settings FILE] [--state-dir DIR] [--timeout S]';

interface Finding {
  ok: boolean;
  what: string;
  text: string;
}

/**
 * `aim-agent doctor`: lock, aim file, state, FC parameter drift, broker. One line per finding,
 * then `ALL CLEAR` (exit 0) or `N problem(s)` (exit 1).
 */
export async function doctorCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...COMMON_OPTIONS, timeout: { type: 'string' } });
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n${USAGE}`);
  const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout takes seconds');
  const findings: Finding[] = [];
  const add = (ok: boolean, what: string, text: string) => {
    findings.push({ ok, what, text });
    io.out(`${ok ? 'ok     ' : 'PROBLEM'} ${what}: ${text}\n`);
  };

  let settings: Settings | undefined;
  try {
    settings = commandSettings(values, values['state-dir'] === undefined);
    add(true, 'settings', settings ? `${values.settings ?? '/etc/aim-agent/agent.json'} is valid (drone ${settings.droneId})` : 'none (state directory only)');
  } catch (err) {
    add(false, 'settings', err instanceof Error ? err.message.replace(/\n/g, '; ') : String(err));
  }
  const stateDir = values['state-dir'] ?? settings?.stateDir ?? DEFAULT_STATE_DIR;
  const log = silentLogger();

  const locksmith = new Locksmith({ stateDir, logger: log });
  try {
    existingStateDir(stateDir);
    const v = await locksmith.status();
    if (v.state === 'free') add(true, 'lock', 'free');
    else if (v.state === 'held') add(true, 'lock', `held by live pid ${v.owner.pid} (${v.owner.command ?? 'unknown command'}) for ${Math.round(v.heldMs / 1000)} s, token ${v.owner.token}`);
    else add(false, 'lock', `STALE (${v.reason}), owner pid ${v.owner.pid}; the service reclaims it, or run: aim-agent lock break`);
  } catch (err) {
    add(false, 'lock', err instanceof Error ? err.message : String(err));
  } finally {
    await locksmith.close();
  }

  const store = new AimStore({ stateDir, logger: log });
  let current: Awaited<ReturnType<AimStore['readCurrent']>>;
  try {
    current = await store.readCurrent();
    add(true, 'aim file', current ? `version ${current.config.version} (${current.config.id}), sha256 ${current.sha256.slice(0, 12)}…` : 'none yet (no config applied)');
    const st = await store.readState();
    if (current && st.sha256 !== current.sha256) add(false, 'state', `state says version ${st.appliedVersion} sha ${st.sha256?.slice(0, 12) ?? '-'}, the file is ${current.sha256.slice(0, 12)}; the service repairs this at start`);
    else add(true, 'state', st.appliedVersion === null ? 'no version applied' : `applied version ${st.appliedVersion} at ${st.appliedAt ?? '?'}`);
  } catch (err) {
    add(false, 'aim file', err instanceof Error ? err.message : String(err));
  }

  if (settings !== undefined) {
    const fcLink = settings.fc.link;
    const fc = await openFcLink(fcLink, { logger: log });
    try {
      await fc.waitForVehicle({ timeoutMs });
      const v = fc.vehicle!;
      add(true, 'flight controller', `${fcLink}: system ${v.systemId}, ${v.armed ? 'ARMED' : 'disarmed'}`);
      if (current) {
        const wanted = configToFcParams(current.config);
        const values = await fc.params.getMany(wanted.map((p) => p.name), { timeoutMs: timeoutMs });
        const drift = wanted.map((p) => diffEntry(p, values.get(p.name))).filter((d) => d.result !== 'unchanged');
        if (drift.length === 0) add(true, 'FC parameters', `${wanted.length} match the aim file`);
        else add(false, 'FC parameters', `${drift.length} differ from the aim file: ${drift.map((d) => `${d.name} want ${d.want} got ${d.got ?? 'nothing'}`).join(', ')}`);
      }
    } catch (err) {
      add(false, 'flight controller', `${fcLink}: no heartbeat within ${timeoutMs / 1000} s (${err instanceof Error ? err.message : String(err)}); is the link right, or does the running service hold a serial port?`);
    } finally {
      await fc.close();
    }
    add(...(await checkBroker(settings, timeoutMs)));
  }

  const problems = findings.filter((f) => !f.ok).length;
  io.out(problems === 0 ? 'ALL CLEAR\n' : `${problems} problem(s)\n`);
  return problems === 0 ? EXIT_OK : EXIT_FAILED;
}

/** Connect with a client id of its own (never the service's, which would kick its session) and read the retained status. */
async function checkBroker(settings: Settings, timeoutMs: number): Promise<[boolean, string, string]> {
  const b = settings.broker;
  let client: mqtt.MqttClient;
  try {
    client = mqtt.connect(b.url, brokerClientOptions(b, { clientId: `aim-agent-${settings.droneId}-doctor-${process.pid}`, clean: true, connectTimeoutMs: timeoutMs }));
  } catch (err) {
    return [false, 'broker', err instanceof Error ? err.message : String(err)];
  }
  try {
    const outcome = await new Promise<[boolean, string, string]>((resolve) => {
      const timer = setTimeout(() => resolve([false, 'broker', `${b.url}: no CONNACK within ${timeoutMs / 1000} s`]), timeoutMs);
      // Every error settles the check (the first one is the finding; later ones change nothing).
      client.on('error', (err) => {
        clearTimeout(timer);
        resolve([false, 'broker', `${b.url}: ${err.message}`]);
      });
      client.once('connect', () => {
        const topic = topicFor(settings.droneId, 'status', b.topicPrefix);
        const t2 = setTimeout(() => {
          clearTimeout(timer);
          resolve([true, 'broker', `${b.url} reachable; no retained status on ${topic} yet`]);
        }, Math.min(1000, timeoutMs));
        client.once('message', (_t, payload) => {
          clearTimeout(timer);
          clearTimeout(t2);
          resolve([true, 'broker', `${b.url} reachable; service status ${payload.toString().slice(0, 200)}`]);
        });
        client.subscribe(topic, { qos: 0 });
      });
    });
    return outcome;
  } finally {
    client.end(true);
  }
}
