import { common, minimal } from 'node-mavlink';
import { MAV_PARAM_TYPE, type ParamType } from '../protocol/param-table.js';
import { TestGcs } from '../sim/test-helpers/gcs.js';
import { waitFor, type Teardown } from '../test/support/index.js';

/**
 * An independent ground station on a port of the FC the agent does not hold: reads what the FC really
 * holds, and changes values behind the agent's back. Raw frames, none of the agent's code.
 */
export interface ReadBack {
  /**
   * The values the FC holds now (PARAM_REQUEST_READ by name; undefined = no answer in 3 s). `drain`: a
   * SITL TCP port an agent has just left, listened on while reading (see `drainPort`).
   */
  read(names: readonly string[], opts?: { drain?: string }): Promise<Map<string, number | undefined>>;
  /** PARAM_SET as another GCS would; resolves with the echoed value. */
  set(name: string, value: number, type?: ParamType): Promise<number>;
  gcs: TestGcs;
}

export async function openReadBack(t: Teardown, link: string): Promise<ReadBack> {
  const gcs = await TestGcs.connect(link);
  t.teardown(() => gcs.close());
  await gcs.wait(minimal.Heartbeat, () => true, { since: 0, timeoutMs: 10_000 });
  return {
    gcs,
    async read(names, opts = {}) {
      const drain = opts.drain === undefined ? undefined : await drainPort(opts.drain);
      try {
        return await readNow(names);
      } finally {
        await drain?.close();
      }
    },
    async set(name, value, type = 'REAL32') {
      const since = gcs.mark();
      gcs.send(TestGcs.paramSet(name, value, MAV_PARAM_TYPE[type]));
      return (await gcs.wait(common.ParamValue, (m) => m.paramId === name, { since, timeoutMs: 3000 })).paramValue;
    },
  };

  async function readNow(names: readonly string[]): Promise<Map<string, number | undefined>> {
    const since = gcs.mark();
    for (const n of names) gcs.send(TestGcs.paramRead(n));
    const out = new Map<string, number | undefined>();
    for (const n of names) {
      const m = await gcs.wait(common.ParamValue, (v) => v.paramId === n && v.paramIndex === 65535, { since, timeoutMs: 3000 }).catch(() => undefined);
      out.set(n, m?.paramValue);
    }
    return out;
  }
}

/**
 * A listener on a SITL TCP port that an agent has just left, standing in for a drone's UART, which always
 * drains. ArduPilot answers PARAM_REQUEST_READs from one queue shared by every port (5 deep) and sends the
 * head answer only when the port it is for has transmit space; a SITL TCP port with no client has none.
 * An agent stopped with reads in flight (SIGTERM lands in its link-up reconciliation, just after the ack)
 * leaves answers for its port at the head, and every port's reads, the read-back's included, go
 * unanswered until a client connects to that port again. Close it before the next agent connects: a SITL
 * TCP port serves one client at a time.
 */
export async function drainPort(link: string): Promise<TestGcs> {
  const gcs = await TestGcs.connect(link);
  try {
    // Accepted once SITL writes to it: from then on answers for this port go out, and the queue moves.
    await waitFor(`SITL writing to ${link}`, () => gcs.bytesIn > 0 || undefined, { timeoutMs: 5000 });
  } catch (err) {
    await gcs.close();
    throw err;
  }
  return gcs;
}
