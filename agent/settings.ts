import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AimError, DRONE_ID_RE, isValidTopicPrefix, parseStrictJson, type PathError } from '../protocol/index.js';
import { issuesToPathErrors } from '../protocol/zod-errors.js';

/** `/etc/aim-agent/agent.json` (DESIGN.md "On the drone"). Every field but droneId, broker.url and fc.link has a default. */
export const DEFAULT_SETTINGS_PATH = '/etc/aim-agent/agent.json';
export const DEFAULT_STATE_DIR = '/var/lib/aim-agent';

const LINK_RE = /^(serial:[^:]+(:\d+)?|tcp:[^:]+:\d+|udp:[^:]+:\d+|udpout:[^:]+:\d+)$/;

export const SettingsSchema = z.strictObject({
  droneId: z.string().regex(DRONE_ID_RE, { message: 'must be 1-64 characters of A-Z, a-z, 0-9, _ and -' }),
  broker: z.strictObject({
    url: z.string().regex(/^(mqtts?|wss?|tcp|tls):\/\/./, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
    username: z.string().optional(),
    passwordFile: z.string().optional(),
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    /** 5 (default). 4 = MQTT 3.1.1 for brokers without MQTT 5 (e.g. the embedded aedes): no session expiry (the session lasts until clean), no response-topic acks. */
    protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
    topicPrefix: z.string().refine(isValidTopicPrefix, { message: 'must be a valid MQTT topic prefix without wildcards' }).default('aim'),
    sessionExpiryS: z.int().min(0).max(4294967295).default(86400),
    keepaliveS: z.int().min(5).max(3600).default(30),
    connectTimeoutMs: z.int().min(100).max(120000).default(10000),
  }),
  fc: z.strictObject({
    link: z.string().regex(LINK_RE, { message: 'must be serial:/dev/X:BAUD, tcp:HOST:PORT, udp:HOST:PORT or udpout:HOST:PORT' }),
    paramTimeoutMs: z.int().min(50).max(60000).default(1000),
    paramRetries: z.int().min(0).max(20).default(3),
    /** Hex (64 chars) MAVLink 2 signing key file; unset: no signing. */
    signingKeyFile: z.string().optional(),
    acceptUnsigned: z.boolean().default(true),
  }),
  security: z
    .strictObject({
      requireSignature: z.boolean().default(true),
      trustedKeys: z.array(z.string()).default([]),
    })
    .default({ requireSignature: true, trustedKeys: [] }),
  stateDir: z.string().min(1).default(DEFAULT_STATE_DIR),
  lock: z
    .strictObject({
      ttlS: z.number().min(1).max(3600).default(10),
      sweepS: z.number().min(0.1).max(3600).default(2),
      acquireTimeoutS: z.number().min(0).max(3600).default(30),
    })
    .default({ ttlS: 10, sweepS: 2, acquireTimeoutS: 30 }),
  apply: z
    .strictObject({
      shutdownTimeoutS: z.number().min(0).max(600).default(10),
      aimTimeoutMs: z.int().min(50).max(60000).default(3000),
    })
    .default({ shutdownTimeoutS: 10, aimTimeoutMs: 3000 }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Settings = z.infer<typeof SettingsSchema>;
export type SettingsInput = z.input<typeof SettingsSchema>;

export function parseSettings(value: unknown): { ok: true; settings: Settings } | { ok: false; errors: PathError[] } {
  const r = SettingsSchema.safeParse(value, { reportInput: true });
  if (!r.success) return { ok: false, errors: issuesToPathErrors(r.error.issues) };
  return { ok: true, settings: r.data };
}

/** Read and validate a settings file; throws AimError AIM_ERR_SETTINGS with every `path: message` in `details.errors`. */
export function loadSettings(file: string): Settings {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    throw new AimError('AIM_ERR_SETTINGS', `${file}: cannot read settings (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  const parsed = parseStrictJson(bytes, { maxBytes: 1024 * 1024 });
  const result = parsed.ok ? parseSettings(parsed.value) : parsed;
  if (!result.ok) {
    const errors = result.errors.map((e) => ({ path: e.path, message: e.message }));
    throw new AimError('AIM_ERR_SETTINGS', `${file}: invalid settings\n${errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`, { details: { errors } });
  }
  return result.settings;
}
