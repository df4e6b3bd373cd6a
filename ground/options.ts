import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { AimError, DEFAULT_TOPIC_PREFIX, isValidTopicPrefix, loadPrivateKey } from '../protocol/index.js';
import type { BrokerSettings } from './broker.js';
import { UsageError } from './cli-io.js';

/**
 * Options every broker-facing aimctl command takes. `--key` is the SIGNING key; the TLS client key is
 * `--client-key`. Environment defaults: AIMCTL_BROKER, AIMCTL_KEY, AIMCTL_TOPIC_PREFIX, AIMCTL_USERNAME,
 * AIMCTL_PASSWORD_FILE.
 */
export const BROKER_OPTIONS = {
  broker: { type: 'string' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  'client-key': { type: 'string' },
  'topic-prefix': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const KEY_OPTION = { key: { type: 'string' } } as const;

export interface BrokerValues {
  broker?: string | undefined;
  username?: string | undefined;
  'password-file'?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  'client-key'?: string | undefined;
  'topic-prefix'?: string | undefined;
}

function readOption(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new UsageError(`--${name} ${file}: cannot read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`);
  }
}

/** Broker settings from flags, then environment; `fallbackUrl` is a resumed roll-out's recorded broker. */
export function brokerSettings(values: BrokerValues, env: NodeJS.ProcessEnv, fallbackUrl?: string): BrokerSettings {
  const url = values.broker ?? env.AIMCTL_BROKER ?? fallbackUrl;
  if (url === undefined || url === '') throw new UsageError('no broker: give --broker URL or set AIMCTL_BROKER');
  if (!/^(mqtts?|wss?|tcp|tls):\/\/./.test(url)) throw new UsageError(`--broker ${JSON.stringify(url)}: give an mqtt://, mqtts://, ws:// or wss:// URL`);
  const topicPrefix = values['topic-prefix'] ?? env.AIMCTL_TOPIC_PREFIX ?? DEFAULT_TOPIC_PREFIX;
  if (!isValidTopicPrefix(topicPrefix)) throw new UsageError(`--topic-prefix ${JSON.stringify(topicPrefix)} is not a valid MQTT topic prefix`);
  const s: BrokerSettings = { url, topicPrefix };
  const username = values.username ?? env.AIMCTL_USERNAME;
  if (username !== undefined) s.username = username;
  const passwordFile = values['password-file'] ?? env.AIMCTL_PASSWORD_FILE;
  if (passwordFile !== undefined) s.password = readOption('password-file', passwordFile).toString('utf8').replace(/\r?\n$/, '');
  if (values.ca !== undefined) s.ca = readOption('ca', values.ca);
  if (values.cert !== undefined) s.cert = readOption('cert', values.cert);
  if (values['client-key'] !== undefined) s.key = readOption('client-key', values['client-key']);
  return s;
}

/** The signing key path from `--key` or AIMCTL_KEY; undefined when neither is set. */
export function signingKeyPath(values: { key?: string | undefined }, env: NodeJS.ProcessEnv): string | undefined {
  const k = values.key ?? env.AIMCTL_KEY;
  return k === undefined || k === '' ? undefined : k;
}

/** Load an Ed25519 private key file; AIM_ERR_KEY when it cannot be read or is not one. */
export function readSigningKey(file: string): KeyObject {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (cause) {
    throw new AimError('AIM_ERR_KEY', `${file}: cannot read the signing key (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  return loadPrivateKey(pem, file);
}

/** The signing key a command cannot do without: UsageError when none is named. */
export function requireSigningKey(values: { key?: string | undefined }, env: NodeJS.ProcessEnv): KeyObject {
  const path = signingKeyPath(values, env);
  if (path === undefined) throw new UsageError('no signing key: give --key PRIVATE.pem or set AIMCTL_KEY');
  return readSigningKey(path);
}
