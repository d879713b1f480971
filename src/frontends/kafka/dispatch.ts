/**
 * Request dispatch: reads the request header, picks the handler, decodes the body with the generated
 * codecs, runs the handler and encodes the response frame (records by reference). A malformed or unsupported
 * request, a failed handler or a response that cannot be encoded ends in a DispatchResult: an answer, no
 * answer, or closing the connection. Anything else (a bug, e.g. an error answer that cannot be encoded, or a
 * throwing observer) rejects, and the connection closes as on a server error.
 */
import { Reader } from '../../kafka-protocol/reader.js';
import { Writer } from '../../kafka-protocol/writer.js';
import { ProtocolError } from '../../kafka-protocol/errors.js';
import {
  APIS,
  decodeRequestHeader,
  encodeResponseFrame,
  requestHeaderVersion,
  type ApiCodec,
  type ApiTypes,
  type FetchResponseInput,
  type ServedApiName,
} from '../../kafka-protocol/generated/index.js';
import type { Connection, DispatchResult } from './connection.js';
import { ErrorCode, countClose, type BrokerContext, type RequestContext } from './context.js';
import { SERVED_VERSIONS, apiVersionsList } from './versions.js';
import { HANDLERS } from './handlers/index.js';
import { CloseConnection, NO_RESPONSE, type Handler } from './handlers/types.js';

export function createDispatcher(ctx: BrokerContext): (frame: Buffer, conn: Connection) => Promise<DispatchResult> {
  return (frame, conn) => (ctx.observers.length === 0 ? dispatch(ctx, frame, conn) : timedDispatch(ctx, frame, conn));
}

/** With a metrics exporter attached: the same, timed per API (frames of an unknown API are not attributed). */
async function timedDispatch(ctx: BrokerContext, frame: Buffer, conn: Connection): Promise<DispatchResult> {
  const started = performance.now();
  const result = await dispatch(ctx, frame, conn);
  const name = frame.length >= 2 ? SERVED_VERSIONS.get(frame.readInt16BE(0))?.name : undefined;
  if (name !== undefined) {
    const seconds = (performance.now() - started) / 1000;
    for (const o of ctx.observers) o.request?.(name, seconds);
  }
  return result;
}

async function dispatch(ctx: BrokerContext, frame: Buffer, conn: Connection): Promise<DispatchResult> {
  if (frame.length < 8) return protocolClose(ctx, conn, `request of ${frame.length} bytes is shorter than a request header`);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const served = SERVED_VERSIONS.get(apiKey);
  if (served === undefined || HANDLERS[served.name] === undefined) return protocolClose(ctx, conn, `unsupported api key ${apiKey}`);
  const codec = APIS[served.name] as unknown as ApiCodec;
  if (apiVersion < served.min || apiVersion > served.max) {
    if ((served.name === 'Produce' || served.name === 'Fetch') && apiVersion >= codec.minVersion && apiVersion < served.min) {
      return oldDataVersion(ctx, conn, served.name, frame, apiVersion, correlationId);
    }
    return unsupportedVersion(ctx, conn, served.name, apiKey, apiVersion, correlationId);
  }
  let rc: RequestContext;
  let body: unknown;
  try {
    const r = new Reader(frame);
    const header = decodeRequestHeader(r, requestHeaderVersion(apiKey, apiVersion));
    body = codec.decodeRequest(r, apiVersion);
    rc = { header, apiVersion, connection: conn, clientHost: conn.remoteAddress };
  } catch (err) {
    return protocolClose(ctx, conn, `malformed ${served.name} v${apiVersion} request: ${(err as Error).message}`);
  }
  ctx.metrics.requests++;
  const handler = HANDLERS[served.name] as unknown as Handler<ServedApiName>;
  let response: unknown;
  try {
    response = await handler(ctx, body as ApiTypes[ServedApiName]['request'], rc);
  } catch (err) {
    if (err instanceof CloseConnection) {
      countClose(ctx.metrics, 'acks0_produce_failed');
      return { kind: 'close', reason: err.message };
    }
    countClose(ctx.metrics, 'server_error');
    ctx.logger.warn({ err, api: served.name, apiVersion, remote: conn.remote }, 'kafka handler failed; closing connection');
    return { kind: 'close', reason: `${served.name} handler failed` };
  }
  if (response === NO_RESPONSE) return { kind: 'none' };
  try {
    const writer = new Writer({ sizePrefix: true, initialCapacity: 1024 });
    const encoded = encodeResponseFrame(served.name, apiVersion, correlationId, response as never, writer);
    if (served.name === 'Fetch') countFetchCopies(ctx, response as FetchResponseInput, encoded.chunks);
    return { kind: 'respond', chunks: encoded.chunks };
  } catch (err) {
    countClose(ctx.metrics, 'server_error');
    ctx.logger.warn({ err, api: served.name, apiVersion, remote: conn.remote }, 'kafka response could not be encoded; closing connection');
    return { kind: 'close', reason: `${served.name} response encoding failed` };
  }
}

/**
 * Zero-copy accounting: every record slice of a Fetch response must appear in the frame's chunk list as
 * the very buffer the engine returned. Any slice that does not was copied on the way.
 */
function countFetchCopies(ctx: BrokerContext, response: FetchResponseInput, chunks: readonly Buffer[]): void {
  const sent = new Set<Buffer>(chunks);
  for (const t of response.responses) {
    for (const p of t.partitions) {
      const r = p.records;
      if (r === null) continue;
      const list: readonly Buffer[] = Buffer.isBuffer(r) ? [r] : r;
      for (const b of list) {
        if (b.length === 0) continue;
        ctx.metrics.fetchRecordBytes += b.length;
        if (!sent.has(b)) ctx.metrics.fetchBytesCopied += b.length;
      }
    }
  }
}

/**
 * Produce v0-2 / Fetch v0-3 (message format v0/v1): the codec can read them and write their responses,
 * so the answer is in the client's own version with UNSUPPORTED_VERSION on every partition.
 */
function oldDataVersion(
  ctx: BrokerContext,
  conn: Connection,
  name: 'Produce' | 'Fetch',
  frame: Buffer,
  apiVersion: number,
  correlationId: number,
): DispatchResult {
  const code = ErrorCode.UNSUPPORTED_VERSION;
  try {
    const r = new Reader(frame);
    decodeRequestHeader(r, requestHeaderVersion(APIS[name].apiKey, apiVersion));
    if (name === 'Produce') {
      const req = APIS.Produce.decodeRequest(r, apiVersion);
      if (req.acks === 0) return protocolClose(ctx, conn, `Produce v${apiVersion} with acks=0 (message format v0/v1 is not supported)`);
      const body = {
        responses: req.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode: code, baseOffset: -1n })),
        })),
      };
      return { kind: 'respond', chunks: encodeResponseFrame('Produce', apiVersion, correlationId, body).chunks };
    }
    const req = APIS.Fetch.decodeRequest(r, apiVersion);
    const body = {
      responses: req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: code, highWatermark: -1n, records: null })),
      })),
    };
    return { kind: 'respond', chunks: encodeResponseFrame('Fetch', apiVersion, correlationId, body).chunks };
  } catch (err) {
    return protocolClose(ctx, conn, `malformed ${name} v${apiVersion} request: ${(err as Error).message}`);
  }
}

function protocolClose(ctx: BrokerContext, conn: Connection, reason: string): DispatchResult {
  countClose(ctx.metrics, 'protocol_error');
  ctx.logger.warn({ remote: conn.remote, reason }, 'kafka protocol error; closing connection');
  return { kind: 'close', reason };
}

/**
 * A request at a version we do not serve. ApiVersions answers in v0 format with UNSUPPORTED_VERSION and
 * the full list, so the client can pick a version (KIP-511). Other APIs get an UNSUPPORTED_VERSION answer
 * at their lowest version when that version's response has a top-level error code; otherwise the
 * connection is closed, as Kafka does.
 */
function unsupportedVersion(
  ctx: BrokerContext,
  conn: Connection,
  name: ServedApiName,
  apiKey: number,
  apiVersion: number,
  correlationId: number,
): DispatchResult {
  ctx.logger.debug({ remote: conn.remote, api: name, apiVersion }, 'kafka request at an unsupported version');
  const range = SERVED_VERSIONS.get(apiKey)!;
  const low = range.min;
  const code = ErrorCode.UNSUPPORTED_VERSION;
  try {
    let frame;
    switch (name) {
      case 'ApiVersions':
        frame = encodeResponseFrame('ApiVersions', 0, correlationId, { errorCode: code, apiKeys: apiVersionsList() });
        break;
      case 'Heartbeat':
        frame = encodeResponseFrame('Heartbeat', low, correlationId, { errorCode: code });
        break;
      case 'LeaveGroup':
        frame = encodeResponseFrame('LeaveGroup', low, correlationId, { errorCode: code });
        break;
      case 'SyncGroup':
        frame = encodeResponseFrame('SyncGroup', low, correlationId, { errorCode: code, assignment: Buffer.alloc(0) });
        break;
      case 'JoinGroup':
        frame = encodeResponseFrame('JoinGroup', low, correlationId, {
          errorCode: code,
          generationId: -1,
          protocolName: '',
          leader: '',
          memberId: '',
          members: [],
        });
        break;
      case 'ListGroups':
        frame = encodeResponseFrame('ListGroups', low, correlationId, { errorCode: code, groups: [] });
        break;
      case 'FindCoordinator':
        frame = encodeResponseFrame('FindCoordinator', low, correlationId, { errorCode: code, nodeId: -1, host: '', port: -1 });
        break;
      case 'InitProducerId':
        frame = encodeResponseFrame('InitProducerId', low, correlationId, { errorCode: code, producerId: -1n, producerEpoch: -1 });
        break;
      default:
        return protocolClose(ctx, conn, `unsupported version ${apiVersion} of ${name}`);
    }
    return { kind: 'respond', chunks: frame.chunks };
  } catch (err) {
    if (err instanceof ProtocolError) return protocolClose(ctx, conn, `unsupported version ${apiVersion} of ${name}`);
    throw err;
  }
}
