/**
 * InitProducerId: a new producer id for idempotent producers; for a transactional id, its stable id with
 * the epoch bumped (fencing older instances). Transactions themselves are not coordinated here: batches
 * of transactional producers are stored as they arrive.
 */
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../../../kafka-protocol/generated/index.js';
import { errorCodeOf, type BrokerContext, type RequestContext } from '../context.js';

export async function handleInitProducerId(
  ctx: BrokerContext,
  req: InitProducerIdRequest,
  _rc: RequestContext,
): Promise<InitProducerIdResponseInput> {
  try {
    const transactionalId = req.transactionalId === null || req.transactionalId === '' ? null : req.transactionalId;
    const r = await ctx.engine.initProducerId(transactionalId);
    return { throttleTimeMs: 0, errorCode: 0, producerId: r.producerId, producerEpoch: r.producerEpoch };
  } catch (err) {
    ctx.logger.warn({ err }, 'InitProducerId failed');
    return { throttleTimeMs: 0, errorCode: errorCodeOf(err), producerId: -1n, producerEpoch: -1 };
  }
}
