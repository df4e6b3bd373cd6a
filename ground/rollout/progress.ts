import type { ProgressEvent, SummaryRow } from './events.js';

/** Where progress goes: `handle` every event, `close` once at the end (stops the TTY refresh timer). */
export interface ProgressSink {
  handle(e: ProgressEvent): void;
  close(): void;
}

/**
 * One JSON object per line, each with `atMs` (ms since the command started): for pipes, logs and tests.
 * Lines of one event-loop turn go out in one write (a 5,000-drone wave is 10,000 lines, and a pipe write
 * is a system call); `close()` writes what is left.
 */
export function jsonProgress(out: (s: string) => void, startedAt: number = Date.now(), now: () => number = Date.now): ProgressSink {
  let buf = '';
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    const s = buf;
    buf = '';
    if (s !== '') out(s);
  };
  return {
    handle(e) {
      buf += JSON.stringify({ ...e, atMs: now() - startedAt }) + '\n';
      // Rare, decisive events go out at once; per-drone lines are batched.
      if (e.event !== 'drone') flush();
      else scheduled ??= setImmediate(flush);
    },
    close() {
      if (scheduled !== undefined) clearImmediate(scheduled);
      flush();
    },
  };
}

interface Row {
  state: string;
  reason: string | null;
  startedAt: number;
  elapsedMs: number | null;
}

const FINAL_OK = new Set(['applied', 'dry-run', 'restored']);
const PENDING = new Set(['planned', 'published', 'deferred']);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const LIVE_REDRAW_UP_TO = 200;

/**
 * The live view on a terminal: a table per wave (drone, state, elapsed, reason) redrawn in place while
 * the wave runs, frozen when it ends, then the summary. Big waves show failed, then pending drones
 * first and fold the rest into a count, so the table fits the screen.
 */
export class TtyProgress implements ProgressSink {
  private title = '';
  private rows = new Map<string, Row>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: (s: string) => void,
    private readonly size: { columns: number; rows: number },
    private readonly now: () => number = Date.now,
  ) {}

  handle(e: ProgressEvent): void {
    switch (e.event) {
      case 'start': {
        const plan = e.waves.map((w) => `${w.name} ${w.drones.length}${w.spec === 'canary' ? '' : ` (${w.spec})`}`).join(', ');
        this.out(
          `${e.resumed ? 'resuming' : 'rolling out'} ${e.id} as version ${e.version}${e.dryRun ? ' (DRY RUN: shadow config, nothing changes)' : ''}  sha256 ${e.sha256.slice(0, 12)}…\n` +
            `plan: ${plan}${e.skipped.length > 0 ? `; skipped offline: ${e.skipped.join(', ')}` : ''}\n` +
            `halt after ${e.allowedFailures} failure(s) (--max-failures ${e.maxFailures}; the canary tolerates none)\nstate file: ${e.stateFile}\n`,
        );
        return;
      }
      case 'wave-start':
        this.begin(`${e.name}: ${e.drones.length} drone(s)`, e.drones);
        return;
      case 'rollback-start':
        this.begin(
          e.scope === 'all-sent'
            ? `rollback to the previous configs as version ${e.version}: ${e.drones.length} drone(s)`
            : `halt clean-up: previous config as version ${e.version} (or desired cleared) for the ${e.drones.length} drone(s) sent the halted config that did not apply it`,
          e.drones,
        );
        return;
      case 'drone': {
        const row = this.rows.get(e.drone);
        if (row === undefined) return;
        row.state = e.state;
        row.reason = e.reason ?? (e.params !== undefined ? `${e.params.filter((p) => p.want !== p.got).length} parameter(s) would change` : null);
        if (!PENDING.has(e.state)) row.elapsedMs = e.elapsedMs;
        // A redraw ranks every row: per event that is quadratic in a big wave, so big waves redraw on the
        // timer (twice a second) and at their end only.
        if (this.rows.size <= LIVE_REDRAW_UP_TO) this.redraw();
        return;
      }
      case 'wave-end':
        this.end(`${e.name}: ${e.succeeded} ok, ${e.failed} not ok; failures so far ${e.failures} (allowed ${e.allowed})`);
        return;
      case 'rollback-end':
        this.end(`rollback: ${e.restored} restored, ${e.failed} not restored`);
        return;
      case 'halt':
        this.out(`HALTED after ${e.name}: ${e.reason}\n`);
        return;
      case 'broker':
        if (e.state !== 'connect') this.out(`broker connection: ${e.state}\n`);
        return;
      case 'interrupted':
        this.end('interrupted');
        this.out(`interrupted; carry on with: aimctl rollout --resume ${e.stateFile}\n`);
        return;
      case 'summary': {
        const unknown = e.unknown.length === 0 ? '' : `\nfinal state NOT KNOWN for ${e.unknown.length} drone(s):\n${e.unknown.map((u) => `  ${u.drone}: ${u.why}`).join('\n')}`;
        this.out(summaryTable(e.drones) + unknown + `\nresult: ${e.result}${e.ok ? '' : '  (exit 1)'}   state file: ${e.stateFile}\n`);
        return;
      }
    }
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private begin(title: string, drones: readonly string[]): void {
    this.close();
    this.title = title;
    this.drawn = 0;
    const t = this.now();
    this.rows = new Map(drones.map((d) => [d, { state: 'planned', reason: null, startedAt: t, elapsedMs: null }]));
    this.redraw();
    // Elapsed times tick while the wave runs.
    this.timer = setInterval(() => this.redraw(), 500);
    this.timer.unref();
  }

  private end(footer: string): void {
    this.redraw();
    this.close();
    this.rows = new Map();
    this.drawn = 0;
    this.out(footer + '\n');
  }

  private redraw(): void {
    if (this.rows.size === 0) return;
    const width = Math.max(40, this.size.columns);
    const room = Math.max(5, this.size.rows - 8);
    const all = [...this.rows.entries()];
    const rank = (r: Row) => (FINAL_OK.has(r.state) ? 2 : PENDING.has(r.state) ? 1 : 0);
    const shown = all.length <= room ? all : [...all].sort((a, b) => rank(a[1]) - rank(b[1])).slice(0, room - 1);
    const now = this.now();
    const lines = [this.title, `  ${'DRONE'.padEnd(20)} ${'STATE'.padEnd(11)} ${'ELAPSED'.padStart(8)}  REASON`];
    for (const [d, r] of shown) {
      const elapsed = r.elapsedMs ?? now - r.startedAt;
      lines.push(`  ${d.padEnd(20)} ${r.state.padEnd(11)} ${secs(elapsed).padStart(8)}  ${r.reason ?? ''}`.slice(0, width - 1));
    }
    if (shown.length < all.length) {
      const rest = all.length - shown.length;
      const ok = all.filter(([, r]) => FINAL_OK.has(r.state)).length;
      lines.push(`  … ${rest} more (${ok} ok in this step)`);
    }
    // Move up over the previous drawing and clear it, then draw again.
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.out(up + lines.join('\n') + '\n');
    this.drawn = lines.length;
  }
}

/** The final per-drone table: outcome, the ack that decided it, elapsed time, rollback, reason. */
export function summaryTable(rows: readonly SummaryRow[]): string {
  const head = `${'DRONE'.padEnd(20)} ${'WAVE'.padEnd(9)} ${'OUTCOME'.padEnd(11)} ${'ACK'.padEnd(10)} ${'ELAPSED'.padStart(8)}  ${'ROLLBACK'.padEnd(11)} REASON`;
  const line = (r: SummaryRow) => {
    const ack = r.ack === null ? '-' : `${r.ack.status}${r.ack.via === 'reported' ? '*' : ''}`;
    const elapsed = r.elapsedMs === null ? '-' : secs(r.elapsedMs);
    const reason = [r.reason, r.rollbackReason ? `rollback: ${r.rollbackReason}` : null].filter(Boolean).join('; ');
    return `${r.drone.padEnd(20)} ${r.wave.padEnd(9)} ${r.state.padEnd(11)} ${ack.padEnd(10)} ${elapsed.padStart(8)}  ${(r.rollback ?? '-').padEnd(11)} ${reason}`;
  };
  const note = rows.some((r) => r.ack?.via === 'reported') ? ['(* decided by the retained report, published just before the ack)'] : [];
  return [head, ...rows.map(line), ...note].join('\n');
}
