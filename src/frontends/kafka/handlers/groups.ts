/**
 * Consumer groups (classic protocol): FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * DescribeGroups, ListGroups, DeleteGroups. The state machine lives in the group coordinator; these
 * handlers translate between wire versions and its calls. This broker coordinates every group (and
 * every transactional id).
 */
import type {
  DeleteGroupsRequest,
  DeleteGroupsResponseInput,
  DescribeGroupsRequest,
  DescribeGroupsResponseInput,
  FindCoordinatorRequest,
  FindCoordinatorResponseInput,
  HeartbeatRequest,
  HeartbeatResponseInput,
  JoinGroupRequest,
  JoinGroupResponseInput,
  LeaveGroupRequest,
  LeaveGroupResponseInput,
  ListGroupsRequest,
  ListGroupsResponseInput,
  SyncGroupRequest,
  SyncGroupResponseInput,
} from '../../../kafka-protocol/generated/index.js';
import { ErrorCode, type BrokerContext, type RequestContext } from '../context.js';

export async function handleFindCoordinator(
  ctx: BrokerContext,
  req: FindCoordinatorRequest,
  rc: RequestContext,
): Promise<FindCoordinatorResponseInput> {
  const node = { nodeId: ctx.brokerId, host: ctx.advertisedHost, port: ctx.advertisedPort };
  const check = (key: string, keyType: number): { errorCode: number; errorMessage: string | null } => {
    if (keyType < 0 || keyType > 2) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown key type ${keyType}` };
    if (key === '' && keyType === 0) return { errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'the group id is empty' };
    return { errorCode: 0, errorMessage: null };
  };
  if (rc.apiVersion >= 4) {
    return {
      throttleTimeMs: 0,
      coordinators: req.coordinatorKeys.map((key) => {
        const c = check(key, req.keyType);
        return c.errorCode === 0 ? { key, ...node, ...c } : { key, nodeId: -1, host: '', port: -1, ...c };
      }),
    };
  }
  const c = check(req.key, req.keyType);
  return c.errorCode === 0 ? { throttleTimeMs: 0, ...c, ...node } : { throttleTimeMs: 0, ...c, nodeId: -1, host: '', port: -1 };
}

export async function handleJoinGroup(ctx: BrokerContext, req: JoinGroupRequest, rc: RequestContext): Promise<JoinGroupResponseInput> {
  const v = rc.apiVersion;
  const result = await ctx.groups.joinGroup({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: v >= 5 ? req.groupInstanceId : null,
    protocolType: req.protocolType,
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : -1,
    clientId: rc.header.clientId ?? '',
    clientHost: `/${rc.clientHost}`,
    requireKnownMemberId: v >= 4,
    supportSkippingAssignment: v >= 9,
    reason: v >= 8 ? req.reason : null,
  });
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    // Before v7 the protocol name is not nullable.
    protocolName: v >= 7 ? result.protocolName : (result.protocolName ?? ''),
    leader: result.leader,
    skipAssignment: result.skipAssignment,
    memberId: result.memberId,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

export async function handleSyncGroup(ctx: BrokerContext, req: SyncGroupRequest, rc: RequestContext): Promise<SyncGroupResponseInput> {
  const v = rc.apiVersion;
  const result = await ctx.groups.syncGroup({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: v >= 3 ? req.groupInstanceId : null,
    protocolType: v >= 5 ? req.protocolType : null,
    protocolName: v >= 5 ? req.protocolName : null,
    assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  });
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    protocolType: result.protocolType,
    protocolName: result.protocolName,
    assignment: result.assignment,
  };
}

export async function handleHeartbeat(ctx: BrokerContext, req: HeartbeatRequest, rc: RequestContext): Promise<HeartbeatResponseInput> {
  const errorCode = ctx.groups.heartbeat({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: rc.apiVersion >= 3 ? req.groupInstanceId : null,
  });
  return { throttleTimeMs: 0, errorCode };
}

export async function handleLeaveGroup(ctx: BrokerContext, req: LeaveGroupRequest, rc: RequestContext): Promise<LeaveGroupResponseInput> {
  const v = rc.apiVersion;
  const members =
    v >= 3
      ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: v >= 5 ? m.reason : null }))
      : [{ memberId: req.memberId, groupInstanceId: null }];
  const result = ctx.groups.leaveGroup({ groupId: req.groupId, members });
  if (v < 3) {
    // No per-member results on the wire: the request error, else the member's (as Kafka).
    const errorCode = result.errorCode !== 0 ? result.errorCode : (result.members[0]?.errorCode ?? 0);
    return { throttleTimeMs: 0, errorCode };
  }
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })),
  };
}

export async function handleDescribeGroups(
  ctx: BrokerContext,
  req: DescribeGroupsRequest,
  rc: RequestContext,
): Promise<DescribeGroupsResponseInput> {
  return {
    throttleTimeMs: 0,
    groups: ctx.groups.describeGroups(req.groups, rc.apiVersion).map((d) => ({
      errorCode: d.errorCode,
      groupId: d.groupId,
      groupState: d.state,
      protocolType: d.protocolType,
      protocolData: d.protocol,
      members: d.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.metadata,
        memberAssignment: m.assignment,
      })),
      authorizedOperations: -2147483648,
    })),
  };
}

export async function handleListGroups(ctx: BrokerContext, req: ListGroupsRequest, rc: RequestContext): Promise<ListGroupsResponseInput> {
  const v = rc.apiVersion;
  const listed = ctx.groups.listGroups(v >= 4 ? req.statesFilter : [], v >= 5 ? req.typesFilter : []);
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    groups: listed.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: 'classic' })),
  };
}

export async function handleDeleteGroups(
  ctx: BrokerContext,
  req: DeleteGroupsRequest,
  _rc: RequestContext,
): Promise<DeleteGroupsResponseInput> {
  return { throttleTimeMs: 0, results: await ctx.groups.deleteGroups(req.groupsNames) };
}
