import type { IClientOptions } from 'mqtt';
import { readNamedFile } from '../../protocol/index.js';
import type { Settings } from '../settings.js';

/**
 * MQTT.js options for the settings' broker: protocol, keepalive, credentials and TLS files (a missing
 * file is `path: no such file` [AIM_ERR_SETTINGS]). Reconnects are ours (reconnectPeriod 0) for the
 * session and pointless for a one-shot check, so every caller gets them off.
 */
export function brokerClientOptions(b: Settings['broker'], extra: { clientId: string; clean: boolean; connectTimeoutMs?: number }): IClientOptions {
  return {
    clientId: extra.clientId,
    protocolVersion: b.protocolVersion,
    clean: extra.clean,
    keepalive: b.keepaliveS,
    connectTimeout: extra.connectTimeoutMs ?? b.connectTimeoutMs,
    reconnectPeriod: 0,
    // mqtt-packet otherwise pre-builds a Buffer for each of the 65,536 packet ids on the first write:
    // ~7 MB of heap kept for life on a Pi, to save a 2-byte allocation per packet.
    writeCache: false,
    ...(b.username !== undefined ? { username: b.username } : {}),
    ...(b.passwordFile !== undefined ? { password: readNamedFile(b.passwordFile, 'AIM_ERR_SETTINGS').toString('utf8').trim() } : {}),
    ...(b.ca !== undefined ? { ca: readNamedFile(b.ca, 'AIM_ERR_SETTINGS') } : {}),
    ...(b.cert !== undefined ? { cert: readNamedFile(b.cert, 'AIM_ERR_SETTINGS') } : {}),
    ...(b.key !== undefined ? { key: readNamedFile(b.key, 'AIM_ERR_SETTINGS') } : {}),
  };
}
