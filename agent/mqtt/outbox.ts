import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

/** One message the drone owes the ground: an ack or a reported update. */
export interface OutboxEntry {
  seq: number;
  topic: string;
  payload: string;
  retain: boolean;
  /** MQTT 5 correlation data of a response-topic ack, base64. */
  correlation?: string;
}

type LogLine = { add: OutboxEntry } | { del: number };

/**
 * Acks and reported updates survive broker outages and agent restarts. Each one is appended to a log
 * in the state directory and fsynced before it is handed to MQTT; a line marks it done once the broker
 * acknowledged it (PUBACK). At start the leftovers are sent again, in order. Delivery is at least once,
 * as QoS 1 is; an entry carries the same bytes every time, so a config is never acked twice with
 * different results.
 *
 * Appends are group-committed (one write + fsync for everything added meanwhile), so a burst of
 * rejections costs a few fsyncs, not one per message. Delivered entries are compacted away: once the
 * log holds more than `compactAfter` lines of history (delivered adds and their dels), it is rewritten
 * with only what is still owed, so on disk it stays a few tens of KB however long the agent runs.
 */
export class Outbox {
  private entries = new Map<number, OutboxEntry>();
  private nextSeq = 1;
  private fh: FileHandle | undefined;
  private buffered: string[] = [];
  private waiters: { resolve: () => void }[] = [];
  private flushing: Promise<void> | undefined;
  private lines = 0;
  private readonly file: string;

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
    private readonly maxEntries = 1000,
    private readonly compactAfter = 128,
  ) {
    this.file = outboxPath(stateDir);
  }

  /** Replay the log, then rewrite it with only what is still owed. */
  async load(): Promise<OutboxEntry[]> {
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err }, 'outbox unreadable; starting empty');
    }
    this.entries = replay(text);
    this.nextSeq = Math.max(0, ...this.entries.keys()) + 1;
    // Rewrite only when there is history to drop; a clean start costs no fsync.
    if (text !== '') await this.compact().catch((err: unknown) => this.log.error({ err }, 'outbox could not be compacted'));
    return this.pending();
  }

  pending(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  /** Record an entry durably; resolves once it is on disk (or the disk refused, which is logged). */
  async add(entry: Omit<OutboxEntry, 'seq'>): Promise<OutboxEntry> {
    const e = { ...entry, seq: this.nextSeq++ };
    this.entries.set(e.seq, e);
    if (this.entries.size > this.maxEntries) {
      // Bounded: a long-offline drone keeps its newest news.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
        this.buffered.push(JSON.stringify({ del: oldest }));
        this.log.warn({ dropped: oldest }, 'outbox full; oldest entry dropped');
      }
    }
    this.buffered.push(JSON.stringify({ add: e }));
    await this.flush();
    return e;
  }

  /** Mark an entry delivered. Not fsynced: losing this line only means one more (identical) delivery. */
  remove(seq: number): void {
    if (!this.entries.delete(seq)) return;
    this.buffered.push(JSON.stringify({ del: seq }));
    void this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private flush(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push({ resolve });
      this.flushing ??= this.drain().finally(() => (this.flushing = undefined));
    });
  }

  private async drain(): Promise<void> {
    while (this.buffered.length > 0) {
      const batch = this.buffered.splice(0);
      const waiters = this.waiters.splice(0);
      try {
        if (this.lines - this.entries.size > this.compactAfter) await this.compact();
        else {
          this.fh ??= await open(this.file, 'a', 0o640);
          await this.fh.appendFile(batch.join('\n') + '\n');
          await this.fh.sync();
          this.lines += batch.length;
        }
      } catch (err) {
        // Disk full or read-only: keep going in memory; MQTT still delivers while the process lives.
        this.log.error({ err }, 'outbox could not be persisted');
      }
      for (const w of waiters) w.resolve();
    }
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Rewrite the log atomically with only the pending entries. */
  private async compact(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o750 });
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w', 0o640);
    try {
      const body = this.pending().map((e) => JSON.stringify({ add: e }) + '\n').join('');
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    // The rename must survive power loss too: the new file holds adds that were promised durable.
    const dir = await open(this.stateDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.lines = this.entries.size;
  }
}

export function outboxPath(stateDir: string): string {
  return join(stateDir, 'outbox.jsonl');
}

/** What a log's text still owes, read without writing (doctor, tests). */
export function replay(text: string): Map<number, OutboxEntry> {
  const entries = new Map<number, OutboxEntry>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let rec: LogLine;
    try {
      rec = JSON.parse(line) as LogLine;
    } catch {
      continue; // a torn last line after power loss: that entry was never handed to MQTT
    }
    if ('add' in rec && isEntry(rec.add)) entries.set(rec.add.seq, rec.add);
    else if ('del' in rec) entries.delete(rec.del);
  }
  return entries;
}

function isEntry(v: unknown): v is OutboxEntry {
  const e = v as OutboxEntry;
  return typeof e === 'object' && e !== null && typeof e.seq === 'number' && typeof e.topic === 'string' && typeof e.payload === 'string' && typeof e.retain === 'boolean';
}
