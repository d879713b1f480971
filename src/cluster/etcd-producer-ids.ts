/**
 * Producer ids from etcd, unique across the cluster and across restarts, as Kafka's controller hands them out:
 *   <prefix>/producer-id-block           { "nextBlockStart": "<n>" } — a broker reserves the block
 *                                        [n, n + blockSize) by a compare-and-set on this key's mod revision (a
 *                                        lost race re-reads and tries again), then hands out its ids from memory.
 *                                        A restarted broker reserves a new block; the rest of its old one is
 *                                        never used.
 *   <prefix>/transactional-ids/<id>      { "producerId": "<n>", "epoch": <e> } — the stable id of a transactional
 *                                        id (URI-encoded in the key); every init bumps the epoch by a
 *                                        compare-and-set, so two brokers never hand out the same epoch.
 * Each call is bounded by the connection's request timeout (METADATA_UNAVAILABLE after it).
 */
import type { IKeyValue } from 'etcd3';
import { SluiceError } from '../errors.js';
import type { ProducerIdManager } from '../engine/metadata.js';
import type { ProducerIdAndEpoch } from '../engine/types.js';
import type { EtcdConnection } from './etcd.js';

/** Kafka's producer id block size (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
export const DEFAULT_PRODUCER_ID_BLOCK_SIZE = 1000;
const MAX_EPOCH = 32767;

export interface EtcdProducerIdManagerOptions {
  /** Ids reserved per compare-and-set. Default 1000, Kafka's. */
  blockSize?: number;
}

interface TxnEntry {
  producerId: bigint;
  epoch: number;
}

export class EtcdProducerIdManager implements ProducerIdManager {
  private readonly blockKey: string;
  private readonly txnDir: string;
  private readonly blockSize: bigint;
  private next = 0n;
  private blockEnd = 0n; // exclusive; next === blockEnd means a new block must be reserved
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly etcd: EtcdConnection,
    options: EtcdProducerIdManagerOptions = {},
  ) {
    const size = options.blockSize ?? DEFAULT_PRODUCER_ID_BLOCK_SIZE;
    if (!Number.isSafeInteger(size) || size < 1) throw new SluiceError('INVALID_ARGUMENT', `blockSize must be a positive integer, got ${size}`);
    this.blockSize = BigInt(size);
    this.blockKey = etcd.key('producer-id-block');
    this.txnDir = etcd.key('transactional-ids') + '/';
  }

  /** Nothing is loaded: the first id reserves a fresh block, past every block any broker has reserved. */
  async load(): Promise<void> {
    this.next = this.blockEnd = 0n;
  }

  initProducerId(transactionalId?: string | null): Promise<ProducerIdAndEpoch> {
    const run = this.chain.then(() => this.doInit(transactionalId ?? null));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private doInit(transactionalId: string | null): Promise<ProducerIdAndEpoch> {
    if (transactionalId === null) {
      return this.etcd.call('initProducerId', async (c, signal) => ({ producerId: await this.allocate(signal), producerEpoch: 0 }));
    }
    if (transactionalId.length === 0) return Promise.reject(new SluiceError('INVALID_ARGUMENT', 'transactionalId must not be empty'));
    const key = this.txnDir + encodeURIComponent(transactionalId);
    return this.etcd.call(`initProducerId for transactional id ${transactionalId}`, async (c, signal) => {
      for (;;) {
        const cur = (await c.get(key).exec()).kvs[0];
        const old = cur ? parseTxnEntry(cur) : null;
        let entry: TxnEntry;
        if (!old || old.epoch >= MAX_EPOCH - 1) entry = { producerId: await this.allocate(signal), epoch: 0 }; // new, or epoch exhausted: new id
        else entry = { producerId: old.producerId, epoch: old.epoch + 1 };
        signal.throwIfAborted();
        const body = JSON.stringify({ producerId: entry.producerId.toString(), epoch: entry.epoch });
        const res = await c
          .if(key, 'Mod', '==', cur ? cur.mod_revision : '0')
          .then(c.put(key).value(body))
          .commit();
        if (res.succeeded) return { producerId: entry.producerId, producerEpoch: entry.epoch };
        signal.throwIfAborted(); // another broker bumped it first: read again
      }
    });
  }

  /** The next id of this broker's block, reserving a new block by compare-and-set when it is used up. */
  private async allocate(signal: AbortSignal): Promise<bigint> {
    if (this.next >= this.blockEnd) {
      const c = this.etcd.client;
      for (;;) {
        const cur = (await c.get(this.blockKey).exec()).kvs[0];
        const start = cur ? parseBlock(cur) : 0n;
        const end = start + this.blockSize;
        signal.throwIfAborted();
        const res = await c
          .if(this.blockKey, 'Mod', '==', cur ? cur.mod_revision : '0')
          .then(c.put(this.blockKey).value(JSON.stringify({ nextBlockStart: end.toString() })))
          .commit();
        // Once the bound has passed the caller has its error: a block reserved now is simply never used.
        signal.throwIfAborted();
        if (res.succeeded) {
          this.next = start;
          this.blockEnd = end;
          break;
        }
      }
    }
    return this.next++;
  }
}

function parseBlock(kv: IKeyValue): bigint {
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as { nextBlockStart?: unknown };
    if (typeof v.nextBlockStart === 'string' && /^\d+$/.test(v.nextBlockStart)) return BigInt(v.nextBlockStart);
  } catch {
    // reported below
  }
  throw new SluiceError('STORAGE', `etcd key ${kv.key.toString('utf8')} does not hold a producer id block`);
}

function parseTxnEntry(kv: IKeyValue): TxnEntry {
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as { producerId?: unknown; epoch?: unknown };
    if (typeof v.producerId === 'string' && /^\d+$/.test(v.producerId) && Number.isInteger(v.epoch)) {
      return { producerId: BigInt(v.producerId), epoch: v.epoch as number };
    }
  } catch {
    // reported below
  }
  throw new SluiceError('STORAGE', `etcd key ${kv.key.toString('utf8')} does not hold a transactional id's producer id and epoch`);
}
