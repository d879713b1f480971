/**
 * Leader epoch cache, persisted as Kafka's `leader-epoch-checkpoint`:
 *   0            (version)
 *   N            (entry count)
 *   epoch startOffset   (N lines, ascending)
 * Answers OffsetsForLeaderEpoch and is truncated along with the log.
 */
import * as fs from 'node:fs';
import { SluiceError } from '../errors.js';
import { isEnoent, writeFileAtomic } from './files.js';

export interface EpochEntry {
  epoch: number;
  startOffset: bigint;
}

/** OffsetsForLeaderEpoch answer: the largest epoch <= the requested one and where it ended. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: bigint;
}

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;

export class LeaderEpochCache {
  readonly file: string;
  private list: EpochEntry[];

  private constructor(file: string, entries: EpochEntry[]) {
    this.file = file;
    this.list = entries;
  }

  /** Loads the checkpoint (absent = empty). A malformed file is a STORAGE error naming it. */
  static load(file: string): LeaderEpochCache {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (isEnoent(e)) return new LeaderEpochCache(file, []);
      throw e;
    }
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    const bad = (why: string): never => {
      throw new SluiceError('STORAGE', `malformed leader epoch checkpoint ${file}: ${why}`);
    };
    if (lines[0] !== '0') bad(`unsupported version "${lines[0] ?? ''}"`);
    const count = Number(lines[1]);
    if (!Number.isInteger(count) || count < 0 || lines.length !== count + 2) bad(`expected ${lines[1]} entries, found ${lines.length - 2}`);
    const entries: EpochEntry[] = [];
    for (let i = 0; i < count; i++) {
      const m = /^(\d+)\s+(\d+)$/.exec(lines[i + 2] as string);
      if (!m) bad(`line ${i + 3} "${lines[i + 2]}"`);
      const [, e, o] = m as RegExpExecArray;
      entries.push({ epoch: Number(e), startOffset: BigInt(o as string) });
    }
    return new LeaderEpochCache(file, entries);
  }

  get entries(): readonly EpochEntry[] {
    return this.list;
  }

  get latestEpoch(): number {
    return this.list.length ? (this.list[this.list.length - 1] as EpochEntry).epoch : UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. As Kafka: a no-op for the current epoch; entries that conflict
   * (epoch >= the new one or start offset >= the new one) are removed first.
   */
  assign(epoch: number, startOffset: bigint): void {
    if (epoch < 0) return;
    const last = this.list[this.list.length - 1];
    if (last && last.epoch === epoch && last.startOffset <= startOffset) return;
    this.list = this.list.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    this.list.push({ epoch, startOffset });
    this.persist();
  }

  /** Kafka's OffsetsForLeaderEpoch logic over this cache, with `logEndOffset` as the end of the latest epoch. */
  endOffsetFor(requestedEpoch: number, logEndOffset: bigint): EpochEndOffset {
    if (requestedEpoch === UNDEFINED_EPOCH || this.list.length === 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === this.latestEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higherIdx = this.list.findIndex((e) => e.epoch > requestedEpoch);
    if (higherIdx < 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    const higher = this.list[higherIdx] as EpochEntry;
    if (higherIdx === 0) return { epoch: requestedEpoch, endOffset: higher.startOffset };
    return { epoch: (this.list[higherIdx - 1] as EpochEntry).epoch, endOffset: higher.startOffset };
  }

  /** Removes entries starting at or after `endOffset` (the log was truncated to it). */
  truncateFromEnd(endOffset: bigint): void {
    const n = this.list.length;
    this.list = this.list.filter((e) => e.startOffset < endOffset);
    if (this.list.length !== n) this.persist();
  }

  /** The log now starts at `startOffset`: earlier entries go, the last of them is moved to startOffset. */
  truncateFromStart(startOffset: bigint): void {
    let lastBefore: EpochEntry | undefined;
    const keep: EpochEntry[] = [];
    for (const e of this.list) {
      if (e.startOffset <= startOffset) lastBefore = e;
      else keep.push(e);
    }
    if (!lastBefore || lastBefore.startOffset === startOffset && keep.length + 1 === this.list.length) return;
    this.list = [{ epoch: lastBefore.epoch, startOffset }, ...keep];
    this.persist();
  }

  clear(): void {
    this.list = [];
    this.persist();
  }

  private persist(): void {
    const lines = ['0', String(this.list.length), ...this.list.map((e) => `${e.epoch} ${e.startOffset}`)];
    writeFileAtomic(this.file, lines.join('\n') + '\n');
  }
}
