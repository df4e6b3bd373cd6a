import type { Logger } from '../log.js';

/** What one undo step achieved: `unknown` names the parameters whose state it could not verify. */
export interface UndoResult {
  ok: boolean;
  unknown?: string[];
}

/**
 * The apply transaction's single compensation path: each stage registers how to undo itself right
 * after it did something (staged a file, started writing the FC, moved a file aside), and a failure at
 * any later stage runs every registered step once, newest first. A new stage cannot forget a rollback
 * that an earlier one needs, and no step runs twice.
 */
export class UndoLog {
  private steps: { name: string; run: () => Promise<UndoResult | void> }[] = [];

  constructor(private readonly log: Logger) {}

  add(name: string, run: () => Promise<UndoResult | void>): void {
    this.steps.push({ name, run });
  }

  /** The transaction committed: nothing is to be undone. */
  discard(): void {
    this.steps = [];
  }

  /** Run every step once, newest first; a step that throws counts as not ok. */
  async unwind(): Promise<{ ok: boolean; unknown: string[] }> {
    const steps = this.steps.splice(0).reverse();
    let ok = true;
    const unknown: string[] = [];
    for (const step of steps) {
      try {
        const r = await step.run();
        if (r !== undefined && !r.ok) {
          ok = false;
          unknown.push(...(r.unknown ?? []));
        }
      } catch (err) {
        ok = false;
        this.log.warn({ err, step: step.name }, 'undo step failed');
      }
    }
    return { ok, unknown };
  }
}
