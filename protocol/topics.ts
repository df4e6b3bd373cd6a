import { DRONE_ID_RE } from './aim-config.js';

/** DESIGN.md "MQTT topics". The prefix defaults to `aim` and may itself contain `/`. */
export type TopicKind = 'desired' | 'ack' | 'reported' | 'status';

const SUFFIX: Record<TopicKind, string> = {
  desired: 'config/desired',
  ack: 'config/ack',
  reported: 'config/reported',
  status: 'status',
};

export const DEFAULT_TOPIC_PREFIX = 'aim';

export function isValidDroneId(id: string): boolean {
  return DRONE_ID_RE.test(id);
}

export function isValidTopicPrefix(prefix: string): boolean {
  return prefix.length > 0 && prefix.length <= 128 && !/[+#\u0000]/.test(prefix) && !prefix.startsWith('/') && !prefix.endsWith('/') && !prefix.includes('//');
}

/** @example topicFor('drone-07', 'ack') // 'aim/drone-07/config/ack' */
export function topicFor(droneId: string, kind: TopicKind, prefix = DEFAULT_TOPIC_PREFIX): string {
  if (!isValidDroneId(droneId)) throw new RangeError(`drone id ${JSON.stringify(droneId)} must match ${DRONE_ID_RE}`);
  if (!isValidTopicPrefix(prefix)) throw new RangeError(`topic prefix ${JSON.stringify(prefix)} is not a valid MQTT topic prefix`);
  return `${prefix}/${droneId}/${SUFFIX[kind]}`;
}

/** A subscription filter for one kind across the fleet: `aim/+/status`. */
export function fleetFilter(kind: TopicKind, prefix = DEFAULT_TOPIC_PREFIX): string {
  return `${prefix}/+/${SUFFIX[kind]}`;
}

/** Parse a topic back into drone id and kind; undefined when it is not one of ours. */
export function parseTopic(topic: string, prefix = DEFAULT_TOPIC_PREFIX): { droneId: string; kind: TopicKind } | undefined {
  if (!topic.startsWith(prefix + '/')) return undefined;
  const rest = topic.slice(prefix.length + 1);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const droneId = rest.slice(0, slash);
  const suffix = rest.slice(slash + 1);
  if (!isValidDroneId(droneId)) return undefined;
  const kind = (Object.keys(SUFFIX) as TopicKind[]).find((k) => SUFFIX[k] === suffix);
  return kind === undefined ? undefined : { droneId, kind };
}
