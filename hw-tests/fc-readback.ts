import { common, minimal } from 'node-mavlink';
import { MAV_PARAM_TYPE, type ParamType } from '../protocol/param-table.js';
import { TestGcs } from '../sim/test-helpers/gcs.js';
import type { Teardown } from '../test/support/index.js';

/**
 * An independent ground station on the FC's second port (SITL's `link2`): reads what the FC really
 * holds, and changes values behind the agent's back. Raw frames, none of the agent's code.
 */
export interface ReadBack {
  /** The values the FC holds now (PARAM_REQUEST_READ by name; undefined = no answer in 3 s). */
  read(names: readonly string[]): Promise<Map<string, number | undefined>>;
  /** PARAM_SET as another GCS would; resolves with the echoed value. */
  set(name: string, value: number, type?: ParamType): Promise<number>;
  gcs: TestGcs;
}

export async function openReadBack(t: Teardown, link2: string): Promise<ReadBack> {
  const gcs = await TestGcs.connect(link2);
  t.teardown(() => gcs.close());
  await gcs.wait(minimal.Heartbeat, () => true, { since: 0, timeoutMs: 10_000 });
  return {
    gcs,
    async read(names) {
      const since = gcs.mark();
      for (const n of names) gcs.send(TestGcs.paramRead(n));
      const out = new Map<string, number | undefined>();
      for (const n of names) {
        const m = await gcs.wait(common.ParamValue, (v) => v.paramId === n && v.paramIndex === 65535, { since, timeoutMs: 3000 }).catch(() => undefined);
        out.set(n, m?.paramValue);
      }
      return out;
    },
    async set(name, value, type = 'REAL32') {
      const since = gcs.mark();
      gcs.send(TestGcs.paramSet(name, value, MAV_PARAM_TYPE[type]));
      return (await gcs.wait(common.ParamValue, (m) => m.paramId === name, { since, timeoutMs: 3000 })).paramValue;
    },
  };
}
