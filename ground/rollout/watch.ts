import type { Ack, Reported } from '../../protocol/index.js';
import type { FleetLink } from '../fleet-link.js';

/** What a drone is expected to ack: this version with this content. */
export interface Expectation {
  version: number;
  sha256: string;
  correlation: string;
  /** Whether a retained `reported` with this sha256 counts as applied (never for a dry run, which is not reported). */
  acceptReported: boolean;
}

export type Observation = { via: 'ack'; ack: Ack } | { via: 'reported'; reported: Reported } | { via: 'timeout' };

export interface WatchOptions {
  /** Called for every matching ack or report; returns true once the drone is settled (no more waiting). */
  observe(droneId: string, obs: Observation): boolean;
  deadlineMs: number;
  now(): number;
  signal?: AbortSignal;
}

/**
 * Wait for a set of drones to settle. Listeners are attached BEFORE `publish` runs, so no ack can slip
 * in between. An ack counts when it names the expected version and sha256, or arrives on our response
 * topic with our correlation data, or is a version-less rejection (an unreadable document). A retained
 * `reported` with the expected sha256 counts as applied: after a reconnect or a resume the ack may be
 * long gone, but the report tells the truth. Resolves 'settled', 'timeout' (the rest are observed as
 * timeouts) or 'aborted' (left as they are).
 */
export async function watchDrones(
  link: FleetLink,
  expected: ReadonlyMap<string, Expectation>,
  publish: (pending: ReadonlySet<string>) => Promise<void>,
  opts: WatchOptions,
): Promise<'settled' | 'timeout' | 'aborted'> {
  const pending = new Set(expected.keys());
  let wake: (r: 'settled' | 'timeout' | 'aborted') => void = () => undefined;
  const done = new Promise<'settled' | 'timeout' | 'aborted'>((r) => (wake = r));
  const settle = (droneId: string, obs: Observation) => {
    if (!pending.has(droneId)) return;
    if (opts.observe(droneId, obs)) pending.delete(droneId);
    if (pending.size === 0) wake('settled');
  };
  let published = false;
  const onAck = (droneId: string, ack: Ack, correlation: string | undefined) => {
    const e = expected.get(droneId);
    if (e === undefined) return;
    // A document the drone could not read (bad signature, untrusted key, not JSON) is rejected with no
    // version. Where the broker ACL keeps drones off our response topic, that rejection only shows on
    // the drone's ack topic: once we have published to it, take it as the answer (failing is the safe side).
    const unreadable = ack.version === null && ack.status === 'rejected' && published;
    const ours = correlation !== undefined ? correlation === e.correlation : (ack.version === e.version && ack.sha256 === e.sha256) || unreadable;
    if (ours) settle(droneId, { via: 'ack', ack });
  };
  const onReported = (droneId: string, reported: Reported) => {
    const e = expected.get(droneId);
    if (e !== undefined && e.acceptReported && reported.sha256 === e.sha256) settle(droneId, { via: 'reported', reported });
  };
  const onAbort = () => wake('aborted');
  // Only the acks of drones still pending are parsed (the second copy of a settled drone's ack is not).
  const interest = link.ackInterest;
  link.ackInterest = (d) => pending.has(d) || interest?.(d) === true;
  link.on('ack', onAck);
  link.on('reported', onReported);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => wake('timeout'), Math.max(0, opts.deadlineMs - opts.now()));
  try {
    if (opts.signal?.aborted) return 'aborted';
    // Already there (a resumed roll-out whose acks were lost): the retained report says so.
    for (const [droneId, e] of expected) {
      const r = link.view(droneId).reported;
      if (r !== undefined && e.acceptReported && r.sha256 === e.sha256) settle(droneId, { via: 'reported', reported: r });
    }
    if (pending.size === 0) return 'settled';
    published = true;
    await publish(new Set(pending));
    if (pending.size === 0) return 'settled';
    const result = await done;
    if (result === 'timeout') for (const d of [...pending]) settle(d, { via: 'timeout' });
    return result;
  } finally {
    clearTimeout(timer);
    link.ackInterest = interest;
    link.off('ack', onAck);
    link.off('reported', onReported);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
