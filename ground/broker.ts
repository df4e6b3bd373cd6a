import { randomBytes } from 'node:crypto';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { AimError, DEFAULT_TOPIC_PREFIX } from '../protocol/index.js';

/** How aimctl reaches the broker: URL, optional credentials and TLS material (already read from files). */
export interface BrokerSettings {
  url: string;
  topicPrefix: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  connectTimeoutMs?: number;
}

export const DEFAULT_BROKER_SETTINGS: Pick<BrokerSettings, 'topicPrefix' | 'connectTimeoutMs'> = {
  topicPrefix: DEFAULT_TOPIC_PREFIX,
  connectTimeoutMs: 10000,
};

/** A fresh ground client id: the ground keeps no session, every run starts clean. */
export function groundClientId(): string {
  return `aimctl-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Connect with MQTT 5 and a clean session, and resolve once CONNACK arrives. The first connection must
 * succeed (AIM_ERR_BROKER otherwise); after that MQTT.js reconnects every second and resubscribes, and
 * the retained topics it re-delivers let a waiting roll-out catch up on what it missed.
 */
export function connectBroker(settings: BrokerSettings, opts: { clientId?: string; signal?: AbortSignal } = {}): Promise<MqttClient> {
  const options: IClientOptions = {
    protocolVersion: 5,
    clean: true,
    clientId: opts.clientId ?? groundClientId(),
    connectTimeout: settings.connectTimeoutMs ?? DEFAULT_BROKER_SETTINGS.connectTimeoutMs,
    reconnectPeriod: 1000,
    keepalive: 30,
    // Acks are QoS 1: a big wave must not be throttled by the client's receive window.
    properties: { receiveMaximum: 1000 },
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
    ...(settings.cert !== undefined ? { cert: settings.cert } : {}),
    ...(settings.key !== undefined ? { key: settings.key } : {}),
  };
  return new Promise((resolve, reject) => {
    let client: MqttClient;
    try {
      client = connect(settings.url, { ...options, reconnectPeriod: 0 });
    } catch (cause) {
      reject(new AimError('AIM_ERR_BROKER', `${settings.url}: ${(cause as Error).message}`, { cause }));
      return;
    }
    const fail = (why: string, cause?: unknown) => {
      cleanup();
      client.end(true);
      reject(new AimError('AIM_ERR_BROKER', `cannot connect to ${settings.url}: ${why}`, cause === undefined ? undefined : { cause }));
    };
    const onConnect = () => {
      cleanup();
      // Reconnects are allowed only once the first connection has proved the settings right.
      client.options.reconnectPeriod = 1000;
      resolve(client);
    };
    const onError = (err: Error) => fail(err.message, err);
    const onClose = () => fail('connection closed before CONNACK');
    const onAbort = () => fail('aborted');
    const cleanup = () => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
