/** ApiVersions: every API and version range this broker serves. */
import type { ApiVersionsRequest, ApiVersionsResponseInput } from '../../../kafka-protocol/generated/index.js';
import type { BrokerContext, RequestContext } from '../context.js';
import { apiVersionsList } from '../versions.js';

export async function handleApiVersions(
  _ctx: BrokerContext,
  _req: ApiVersionsRequest,
  _rc: RequestContext,
): Promise<ApiVersionsResponseInput> {
  return { errorCode: 0, apiKeys: apiVersionsList(), throttleTimeMs: 0 };
}
