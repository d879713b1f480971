/** The shape of an API handler and the markers a handler can return instead of a response body. */
import type { ApiTypes, ServedApiName } from '../../../kafka-protocol/generated/index.js';
import type { BrokerContext, RequestContext } from '../context.js';

/** Returned by a handler when the protocol sends no response (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no-response');
export type NoResponse = typeof NO_RESPONSE;

/** Thrown by a handler when the connection must be closed instead of answered (as Kafka does). */
export class CloseConnection extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CloseConnection';
  }
}

export type Handler<K extends ServedApiName> = (
  ctx: BrokerContext,
  request: ApiTypes[K]['request'],
  rc: RequestContext,
) => Promise<ApiTypes[K]['responseInput'] | NoResponse>;

export interface ApiSpec<K extends ServedApiName> {
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly handle: Handler<K>;
}
