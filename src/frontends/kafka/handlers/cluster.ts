/** DescribeCluster: this single broker, as controller too. */
import type { DescribeClusterRequest, DescribeClusterResponseInput } from '../../../kafka-protocol/generated/index.js';
import { ErrorCode, type BrokerContext, type RequestContext } from '../context.js';

export async function handleDescribeCluster(
  ctx: BrokerContext,
  req: DescribeClusterRequest,
  rc: RequestContext,
): Promise<DescribeClusterResponseInput> {
  // v1 endpointType: 1 = brokers (the only kind we have), 2 = controllers (we are both).
  if (rc.apiVersion >= 1 && req.endpointType !== 1 && req.endpointType !== 2) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
      errorMessage: `unsupported endpoint type ${req.endpointType}`,
      clusterId: ctx.clusterId,
      controllerId: -1,
      brokers: [],
    };
  }
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    endpointType: rc.apiVersion >= 1 ? req.endpointType : 1,
    clusterId: ctx.clusterId,
    controllerId: ctx.brokerId,
    brokers: [{ brokerId: ctx.brokerId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
    clusterAuthorizedOperations: -2147483648,
  };
}
