import * as z from 'zod/mini';
import { AimError, DRONE_ID_RE, isValidTopicPrefix, parseStrictJson, readNamedFile, type PathError } from '../protocol/index.js';
import { issuesToPathErrors } from '../protocol/zod-errors.js';

/** `/etc/aim-agent/agent.json` (DESIGN.md "On the drone"). Every field but droneId, broker.url and fc.link has a default. */
export const DEFAULT_SETTINGS_PATH = '/etc/aim-agent/agent.json';
export const DEFAULT_STATE_DIR = '/var/lib/aim-agent';

const LINK_RE = /^(serial:[^:]+(:\d+)?|tcp:[^:]+:\d+|udp:[^:]+:\d+|udpout:[^:]+:\d+)$/;

const int = (lo: number, hi: number) => z.int().check(z.gte(lo), z.lte(hi));
const num = (lo: number, hi: number) => z.number().check(z.gte(lo), z.lte(hi));

export const SettingsSchema = z.strictObject({
  droneId: z.string().check(z.regex(DRONE_ID_RE, { message: 'must be 1-64 characters of A-Z, a-z, 0-9, _ and -' })),
  broker: z.strictObject({
    url: z.string().check(z.regex(/^(mqtts?|wss?|tcp|tls):\/\/./, { message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' })),
    username: z.optional(z.string()),
    passwordFile: z.optional(z.string()),
    ca: z.optional(z.string()),
    cert: z.optional(z.string()),
    key: z.optional(z.string()),
    /** 5 (default). 4 = MQTT 3.1.1 for brokers without MQTT 5 (e.g. the embedded aedes): no session expiry (the session lasts until clean), no response-topic acks. */
    protocolVersion: z._default(z.literal([5, 4]), 5),
    topicPrefix: z._default(z.string().check(z.refine(isValidTopicPrefix, { message: 'must be a valid MQTT topic prefix without wildcards' })), 'aim'),
    sessionExpiryS: z._default(int(0, 4294967295), 86400),
    keepaliveS: z._default(int(5, 3600), 30),
    connectTimeoutMs: z._default(int(100, 120000), 10000),
  }),
  fc: z.strictObject({
    link: z.string().check(z.regex(LINK_RE, { message: 'must be serial:/dev/X:BAUD, tcp:HOST:PORT, udp:HOST:PORT or udpout:HOST:PORT' })),
    paramTimeoutMs: z._default(int(50, 60000), 1000),
    paramRetries: z._default(int(0, 20), 3),
    /** Hex (64 chars) MAVLink 2 signing key file; unset: no signing. */
    signingKeyFile: z.optional(z.string()),
    /** With a signing key: accept unsigned frames from the FC too. Unset means no (the link's default). */
    acceptUnsigned: z.optional(z.boolean()),
  }),
  security: z._default(
    z.strictObject({
      requireSignature: z._default(z.boolean(), true),
      trustedKeys: z._default(z.array(z.string()), []),
    }),
    { requireSignature: true, trustedKeys: [] },
  ),
  stateDir: z._default(z.string().check(z.minLength(1)), DEFAULT_STATE_DIR),
  lock: z._default(
    z.strictObject({
      ttlS: z._default(num(1, 3600), 10),
      sweepS: z._default(num(0.1, 3600), 2),
      acquireTimeoutS: z._default(num(0, 3600), 30),
    }),
    { ttlS: 10, sweepS: 2, acquireTimeoutS: 30 },
  ),
  apply: z._default(
    z.strictObject({
      shutdownTimeoutS: z._default(num(0, 600), 20),
      aimTimeoutMs: z._default(int(50, 60000), 3000),
    }),
    { shutdownTimeoutS: 20, aimTimeoutMs: 3000 },
  ),
  logLevel: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
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
  const bytes = readNamedFile(file, 'AIM_ERR_SETTINGS');
  const parsed = parseStrictJson(bytes, { maxBytes: 1024 * 1024 });
  const result = parsed.ok ? parseSettings(parsed.value) : parsed;
  if (!result.ok) {
    const errors = result.errors.map((e) => ({ path: e.path, message: e.message }));
    throw new AimError('AIM_ERR_SETTINGS', `${file}: invalid settings\n${errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`, { details: { errors } });
  }
  return result.settings;
}
