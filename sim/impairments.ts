/** Link faults fc-sim can inject, all changeable at run time. */
export interface ImpairmentSettings {
  /** Probability that a whole frame is dropped, each direction independently. */
  loss: number;
  /** Probability that any one byte is flipped, both directions. */
  corrupt: number;
  /** One-way delay added in each direction (a round trip grows by twice this). */
  latencyMs: number;
  /** Stop answering once this many more frames have been received; null: never. */
  freezeAfter: number | null;
  /** Frozen: every received frame is ignored and nothing is sent, heartbeats included (a hung FC). */
  frozen: boolean;
}

export type ImpairmentUpdate = Partial<Omit<ImpairmentSettings, 'freezeAfter'>> & { freezeAfter?: number | null | undefined };

export const NO_IMPAIRMENTS: ImpairmentSettings = { loss: 0, corrupt: 0, latencyMs: 0, freezeAfter: null, frozen: false };

/** Check an update; throws RangeError naming the bad field. */
export function checkImpairments(p: ImpairmentUpdate): void {
  const prob = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${v}`);
  };
  prob('loss', p.loss);
  prob('corrupt', p.corrupt);
  if (p.latencyMs !== undefined && !(Number.isFinite(p.latencyMs) && p.latencyMs >= 0)) throw new RangeError(`latencyMs must be ≥ 0, got ${p.latencyMs}`);
  if (p.freezeAfter !== undefined && p.freezeAfter !== null && !(Number.isInteger(p.freezeAfter) && p.freezeAfter >= 0)) {
    throw new RangeError(`freezeAfter must be an integer ≥ 0, got ${p.freezeAfter}`);
  }
}

/** The live impairment state shared by every channel of one simulator. */
export class Impairments {
  private s: ImpairmentSettings = { ...NO_IMPAIRMENTS };
  private framesSinceArmed = 0;
  private readonly random: () => number;

  constructor(init: ImpairmentUpdate = {}, random: () => number = Math.random) {
    this.random = random;
    this.update(init);
  }

  get settings(): Readonly<ImpairmentSettings> {
    return this.s;
  }

  get frozen(): boolean {
    return this.s.frozen;
  }

  update(p: ImpairmentUpdate): void {
    checkImpairments(p);
    const next = { ...this.s };
    if (p.loss !== undefined) next.loss = p.loss;
    if (p.corrupt !== undefined) next.corrupt = p.corrupt;
    if (p.latencyMs !== undefined) next.latencyMs = p.latencyMs;
    if (p.freezeAfter !== undefined) {
      next.freezeAfter = p.freezeAfter;
      this.framesSinceArmed = 0;
    }
    if (p.frozen !== undefined) next.frozen = p.frozen;
    this.s = next;
  }

  /** Count a received frame; returns false when the simulator must ignore it (frozen). */
  admitFrame(): boolean {
    if (this.s.frozen) return false;
    if (this.s.freezeAfter !== null) {
      if (this.framesSinceArmed >= this.s.freezeAfter) {
        this.s = { ...this.s, frozen: true };
        return false;
      }
      this.framesSinceArmed++;
    }
    return true;
  }

  /** Whether to drop this frame. */
  lose(): boolean {
    return this.s.loss > 0 && this.random() < this.s.loss;
  }

  /** The bytes with each one flipped with probability `corrupt` (a copy when anything changed). */
  corrupt(buf: Buffer): Buffer {
    const p = this.s.corrupt;
    if (p <= 0) return buf;
    let out: Buffer | undefined;
    for (let i = 0; i < buf.length; i++) {
      if (this.random() < p) {
        out ??= Buffer.from(buf);
        // XOR with a non-zero mask so the byte really changes.
        out[i] = out[i]! ^ (1 + Math.floor(this.random() * 255));
      }
    }
    return out ?? buf;
  }
}
