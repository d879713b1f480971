/**
 * Kafka's protocol error codes — `org.apache.kafka.common.protocol.Errors` — in one place: name → [code,
 * retriable, message]. The broker answers with these numbers, the coordinator decides with them, and the wire
 * client names the ones it receives.
 */
const TABLE = {
  UNKNOWN_SERVER_ERROR: [-1, false, 'the server experienced an unexpected error'],
  NONE: [0, false, ''],
  OFFSET_OUT_OF_RANGE: [1, false, 'the requested offset is not within the range of offsets maintained by the server'],
  CORRUPT_MESSAGE: [2, true, 'the message failed its CRC check, exceeded the valid size, has a null key for a compacted topic, or is otherwise corrupt'],
  UNKNOWN_TOPIC_OR_PARTITION: [3, true, 'this server does not host this topic-partition'],
  INVALID_FETCH_SIZE: [4, false, 'the requested fetch size is invalid'],
  LEADER_NOT_AVAILABLE: [5, true, 'there is no leader for this topic-partition as we are in the middle of a leadership election'],
  NOT_LEADER_OR_FOLLOWER: [6, true, 'this server is not the leader or a follower for that topic-partition'],
  REQUEST_TIMED_OUT: [7, true, 'the request timed out'],
  BROKER_NOT_AVAILABLE: [8, false, 'the broker is not available'],
  REPLICA_NOT_AVAILABLE: [9, true, 'the replica is not available for the requested topic-partition'],
  MESSAGE_TOO_LARGE: [10, false, 'the request included a message larger than the max message size the server will accept'],
  STALE_CONTROLLER_EPOCH: [11, false, 'the controller moved to another broker'],
  OFFSET_METADATA_TOO_LARGE: [12, false, 'the metadata field of the offset request was too large'],
  NETWORK_EXCEPTION: [13, true, 'the server disconnected before a response was received'],
  COORDINATOR_LOAD_IN_PROGRESS: [14, true, 'the coordinator is loading and hence can\'t process requests'],
  COORDINATOR_NOT_AVAILABLE: [15, true, 'the coordinator is not available'],
  NOT_COORDINATOR: [16, true, 'this is not the correct coordinator'],
  INVALID_TOPIC_EXCEPTION: [17, false, 'the request attempted to perform an operation on an invalid topic'],
  RECORD_LIST_TOO_LARGE: [18, false, 'the request included message batch larger than the configured segment size on the server'],
  NOT_ENOUGH_REPLICAS: [19, true, 'messages are rejected since there are fewer in-sync replicas than required'],
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: [20, true, 'messages are written to the log, but to fewer in-sync replicas than required'],
  INVALID_REQUIRED_ACKS: [21, false, 'produce request specified an invalid value for required acks'],
  ILLEGAL_GENERATION: [22, false, 'specified group generation id is not valid'],
  INCONSISTENT_GROUP_PROTOCOL: [23, false, 'the group member\'s supported protocols are incompatible with those of existing members'],
  INVALID_GROUP_ID: [24, false, 'the configured groupId is invalid'],
  UNKNOWN_MEMBER_ID: [25, false, 'the coordinator is not aware of this member'],
  INVALID_SESSION_TIMEOUT: [26, false, 'the session timeout is not within the range allowed by the broker'],
  REBALANCE_IN_PROGRESS: [27, false, 'the group is rebalancing, so a rejoin is needed'],
  INVALID_COMMIT_OFFSET_SIZE: [28, false, 'the committing offset data size is not valid'],
  TOPIC_AUTHORIZATION_FAILED: [29, false, 'topic authorization failed'],
  GROUP_AUTHORIZATION_FAILED: [30, false, 'group authorization failed'],
  CLUSTER_AUTHORIZATION_FAILED: [31, false, 'cluster authorization failed'],
  INVALID_TIMESTAMP: [32, false, 'the timestamp of the message is out of acceptable range'],
  UNSUPPORTED_SASL_MECHANISM: [33, false, 'the broker does not support the requested SASL mechanism'],
  ILLEGAL_SASL_STATE: [34, false, 'request is not valid given the current SASL state'],
  UNSUPPORTED_VERSION: [35, false, 'the version of API is not supported'],
  TOPIC_ALREADY_EXISTS: [36, false, 'topic with this name already exists'],
  INVALID_PARTITIONS: [37, false, 'number of partitions is below 1'],
  INVALID_REPLICATION_FACTOR: [38, false, 'replication factor is below 1 or larger than the number of available brokers'],
  INVALID_REPLICA_ASSIGNMENT: [39, false, 'replica assignment is invalid'],
  INVALID_CONFIG: [40, false, 'configuration is invalid'],
  NOT_CONTROLLER: [41, true, 'this is not the correct controller for this cluster'],
  INVALID_REQUEST: [42, false, 'this most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker'],
  UNSUPPORTED_FOR_MESSAGE_FORMAT: [43, false, 'the message format version on the broker does not support the request'],
  POLICY_VIOLATION: [44, false, 'request parameters do not satisfy the configured policy'],
  OUT_OF_ORDER_SEQUENCE_NUMBER: [45, false, 'the broker received an out of order sequence number'],
  DUPLICATE_SEQUENCE_NUMBER: [46, false, 'the broker received a duplicate sequence number'],
  INVALID_PRODUCER_EPOCH: [47, false, 'producer attempted to produce with an old epoch'],
  INVALID_TXN_STATE: [48, false, 'the producer attempted a transactional operation in an invalid state'],
  INVALID_PRODUCER_ID_MAPPING: [49, false, 'the producer attempted to use a producer id which is not currently assigned to its transactional id'],
  INVALID_TRANSACTION_TIMEOUT: [50, false, 'the transaction timeout is larger than the maximum value allowed by the broker'],
  CONCURRENT_TRANSACTIONS: [51, true, 'the producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing'],
  TRANSACTION_COORDINATOR_FENCED: [52, false, 'this transaction coordinator is fenced'],
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: [53, false, 'transactional id authorization failed'],
  SECURITY_DISABLED: [54, false, 'security features are disabled'],
  OPERATION_NOT_ATTEMPTED: [55, false, 'the broker did not attempt to execute this operation'],
  KAFKA_STORAGE_ERROR: [56, true, 'disk error when trying to access log file on the disk'],
  LOG_DIR_NOT_FOUND: [57, false, 'the user-specified log directory is not found in the broker config'],
  SASL_AUTHENTICATION_FAILED: [58, false, 'SASL authentication failed'],
  UNKNOWN_PRODUCER_ID: [59, false, 'the broker could not locate the producer metadata associated with the producer id'],
  REASSIGNMENT_IN_PROGRESS: [60, false, 'a partition reassignment is in progress'],
  DELEGATION_TOKEN_AUTH_DISABLED: [61, false, 'delegation token feature is not enabled'],
  DELEGATION_TOKEN_NOT_FOUND: [62, false, 'delegation token is not found on server'],
  DELEGATION_TOKEN_OWNER_MISMATCH: [63, false, 'specified principal is not valid owner/renewer'],
  DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: [64, false, 'delegation token requests are not allowed on this connection'],
  DELEGATION_TOKEN_AUTHORIZATION_FAILED: [65, false, 'delegation token authorization failed'],
  DELEGATION_TOKEN_EXPIRED: [66, false, 'delegation token is expired'],
  INVALID_PRINCIPAL_TYPE: [67, false, 'supplied principalType is not supported'],
  NON_EMPTY_GROUP: [68, false, 'the group is not empty'],
  GROUP_ID_NOT_FOUND: [69, false, 'the group id does not exist'],
  FETCH_SESSION_ID_NOT_FOUND: [70, true, 'the fetch session id was not found'],
  INVALID_FETCH_SESSION_EPOCH: [71, true, 'the fetch session epoch is invalid'],
  LISTENER_NOT_FOUND: [72, true, 'there is no listener on the leader broker that matches the listener on which metadata request was processed'],
  TOPIC_DELETION_DISABLED: [73, false, 'topic deletion is disabled'],
  FENCED_LEADER_EPOCH: [74, true, 'the leader epoch in the request is older than the epoch on the broker'],
  UNKNOWN_LEADER_EPOCH: [75, true, 'the leader epoch in the request is newer than the epoch on the broker'],
  UNSUPPORTED_COMPRESSION_TYPE: [76, false, 'the requesting client does not support the compression type of given partition'],
  STALE_BROKER_EPOCH: [77, false, 'broker epoch has changed'],
  OFFSET_NOT_AVAILABLE: [78, true, 'the leader high watermark has not caught up from a recent leader election'],
  MEMBER_ID_REQUIRED: [79, false, 'the group member needs to have a valid member id before actually entering a consumer group'],
  PREFERRED_LEADER_NOT_AVAILABLE: [80, true, 'the preferred leader was not available'],
  GROUP_MAX_SIZE_REACHED: [81, false, 'the consumer group has reached its max size'],
  FENCED_INSTANCE_ID: [82, false, 'the broker rejected this static consumer since another consumer with the same group.instance.id has registered'],
  ELIGIBLE_LEADERS_NOT_AVAILABLE: [83, true, 'eligible topic partition leaders are not available'],
  ELECTION_NOT_NEEDED: [84, true, 'leader election not needed for topic partition'],
  NO_REASSIGNMENT_IN_PROGRESS: [85, false, 'no partition reassignment is in progress'],
  GROUP_SUBSCRIBED_TO_TOPIC: [86, false, 'deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it'],
  INVALID_RECORD: [87, false, 'this record has failed the validation on broker and hence will be rejected'],
  UNSTABLE_OFFSET_COMMIT: [88, true, 'there are unstable offsets that need to be cleared'],
  THROTTLING_QUOTA_EXCEEDED: [89, true, 'the throttling quota has been exceeded'],
  PRODUCER_FENCED: [90, false, 'there is a newer producer with the same transactionalId which fences the current one'],
  RESOURCE_NOT_FOUND: [91, false, 'a request illegally referred to a resource that does not exist'],
  DUPLICATE_RESOURCE: [92, false, 'a request illegally referred to the same resource twice'],
  UNACCEPTABLE_CREDENTIAL: [93, false, 'requested credential would not meet criteria for acceptability'],
  INCONSISTENT_VOTER_SET: [94, false, 'the voter set is inconsistent'],
  INVALID_UPDATE_VERSION: [95, false, 'the given update version was invalid'],
  FEATURE_UPDATE_FAILED: [96, false, 'unable to update finalized features due to an unexpected server error'],
  PRINCIPAL_DESERIALIZATION_FAILURE: [97, false, 'request principal deserialization failed during forwarding'],
  SNAPSHOT_NOT_FOUND: [98, false, 'requested snapshot was not found'],
  POSITION_OUT_OF_RANGE: [99, false, 'requested position is not greater than or equal to zero, and less than the size of the snapshot'],
  UNKNOWN_TOPIC_ID: [100, true, 'this server does not host this topic ID'],
  DUPLICATE_BROKER_REGISTRATION: [101, false, 'this broker ID is already in use'],
  BROKER_ID_NOT_REGISTERED: [102, false, 'the given broker ID was not registered'],
  INCONSISTENT_TOPIC_ID: [103, true, 'the log\'s topic ID did not match the topic ID in the request'],
  INCONSISTENT_CLUSTER_ID: [104, false, 'the clusterId in the request does not match that found on the server'],
  TRANSACTIONAL_ID_NOT_FOUND: [105, false, 'the transactionalId could not be found'],
  FETCH_SESSION_TOPIC_ID_ERROR: [106, true, 'the fetch session encountered inconsistent topic ID usage'],
  INELIGIBLE_REPLICA: [107, false, 'the new ISR contains at least one ineligible replica'],
  NEW_LEADER_ELECTED: [108, false, 'the AlterPartition request successfully updated the partition state but the leader has changed'],
  OFFSET_MOVED_TO_TIERED_STORAGE: [109, false, 'the requested offset is moved to tiered storage'],
  FENCED_MEMBER_EPOCH: [110, false, 'the member epoch is fenced by the group coordinator'],
  UNRELEASED_INSTANCE_ID: [111, false, 'the instance ID is still used by another member in the consumer group'],
  UNSUPPORTED_ASSIGNOR: [112, false, 'the assignor or its version range is not supported by the consumer group'],
  STALE_MEMBER_EPOCH: [113, false, 'the member epoch is stale'],
  UNSUPPORTED_ENDPOINT_TYPE: [114, false, 'the endpoint type is not supported'],
} as const;

type Table = typeof TABLE;
export type KafkaErrorName = keyof Table;

/** Code of every Kafka error by its enum name, e.g. `KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION` (3). */
export const KafkaErrors = Object.freeze(
  Object.fromEntries(Object.entries(TABLE).map(([name, row]) => [name, row[0]])),
) as { readonly [K in KafkaErrorName]: Table[K][0] };

const BY_CODE = new Map<number, readonly [KafkaErrorName, boolean, string]>(
  (Object.entries(TABLE) as [KafkaErrorName, Table[KafkaErrorName]][]).map(([name, [code, retriable, message]]) => [code, [name, retriable, message]]),
);

/** Kafka's name for an error code ('UNKNOWN_ERROR_CODE(n)' for codes this table does not know). */
export function kafkaErrorName(code: number): string {
  return BY_CODE.get(code)?.[0] ?? `UNKNOWN_ERROR_CODE(${code})`;
}

/** Whether Kafka marks the error retriable (a retry may succeed without changing the request). */
export function isRetriableKafkaError(code: number): boolean {
  return BY_CODE.get(code)?.[1] ?? false;
}

/** Kafka's description of an error code, or null for codes this table does not know. */
export function kafkaErrorMessage(code: number): string | null {
  return BY_CODE.get(code)?.[2] ?? null;
}
