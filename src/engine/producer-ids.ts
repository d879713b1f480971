/**
 * The local kind of producer id allocation, persisted under `<dataDir>/meta/`:
 *   producer-ids.json       { "nextBlockStart": "<n>" } — ids are handed out from reserved blocks; the block
 *                           is persisted (fsync'd) before any id in it is used, so ids never repeat after a crash.
 *   transactional-ids.json  { "<transactionalId>": { "producerId": "<n>", "epoch": <e> } } — stable id per
 *                           transactional id; the epoch bumps on every init (fencing older instances).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../errors.js';
import { writeFileAtomicAsync } from '../storage/files.js';
import type { ProducerIdManager } from './metadata.js';
import type { ProducerIdAndEpoch } from './types.js';

const BLOCK_SIZE = 1000n;
const MAX_EPOCH = 32767;

interface TxnEntry {
  producerId: bigint;
  epoch: number;
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SluiceError('STORAGE', `cannot read ${file}: ${(e as Error).message}`);
  }
}

export class LocalProducerIdManager implements ProducerIdManager {
  private readonly idsFile: string;
  private readonly txnFile: string;
  private next = 0n;
  private blockEnd = 0n; // exclusive; next === blockEnd means a new block must be reserved
  private persistedNext = 0n;
  private readonly txn = new Map<string, TxnEntry>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly metaDir: string) {
    this.idsFile = join(metaDir, 'producer-ids.json');
    this.txnFile = join(metaDir, 'transactional-ids.json');
  }

  async load(): Promise<void> {
    await mkdir(this.metaDir, { recursive: true });
    const ids = (await readJson(this.idsFile)) as { nextBlockStart?: string } | undefined;
    this.persistedNext = ids?.nextBlockStart ? BigInt(ids.nextBlockStart) : 0n;
    this.next = this.blockEnd = this.persistedNext;
    const txn = (await readJson(this.txnFile)) as Record<string, { producerId: string; epoch: number }> | undefined;
    for (const [k, v] of Object.entries(txn ?? {})) this.txn.set(k, { producerId: BigInt(v.producerId), epoch: v.epoch });
  }

  /** A fresh producer id with epoch 0, or for a transactional id its stable id with the epoch bumped. */
  initProducerId(transactionalId?: string | null): Promise<ProducerIdAndEpoch> {
    const run = this.chain.then(() => this.doInit(transactionalId ?? null));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async doInit(transactionalId: string | null): Promise<ProducerIdAndEpoch> {
    if (transactionalId === null) return { producerId: await this.allocate(), producerEpoch: 0 };
    if (transactionalId.length === 0) throw new SluiceError('INVALID_ARGUMENT', 'transactionalId must not be empty');
    const cur = this.txn.get(transactionalId);
    let entry: TxnEntry;
    if (!cur) entry = { producerId: await this.allocate(), epoch: 0 };
    else if (cur.epoch >= MAX_EPOCH - 1) entry = { producerId: await this.allocate(), epoch: 0 }; // epoch exhausted: new id
    else entry = { producerId: cur.producerId, epoch: cur.epoch + 1 };
    const nextMap = new Map(this.txn);
    nextMap.set(transactionalId, entry);
    const body: Record<string, { producerId: string; epoch: number }> = {};
    for (const [k, v] of nextMap) body[k] = { producerId: v.producerId.toString(), epoch: v.epoch };
    await writeFileAtomicAsync(this.txnFile, JSON.stringify(body));
    this.txn.set(transactionalId, entry);
    return { producerId: entry.producerId, producerEpoch: entry.epoch };
  }

  private async allocate(): Promise<bigint> {
    if (this.next >= this.blockEnd) {
      const end = this.persistedNext + BLOCK_SIZE;
      await writeFileAtomicAsync(this.idsFile, JSON.stringify({ nextBlockStart: end.toString() }));
      this.next = this.persistedNext;
      this.blockEnd = this.persistedNext = end;
    }
    return this.next++;
  }
}
