/**
 * Errors of the wire client. A non-zero Kafka error code in a response becomes a `KafkaProtocolError`
 * (code number + the name from Kafka's `Errors` enum); a broker that cannot be reached, a dropped connection
 * or a request without an answer becomes a `KafkaConnectionError`.
 */
import { SluiceError } from '../errors.js';

/** Kafka's `org.apache.kafka.common.protocol.Errors`: code → [name, retriable, message]. */
const ERRORS: Readonly<Record<number, readonly [string, boolean, string]>> = {
  [-1]: ['UNKNOWN_SERVER_ERROR', false, 'the server experienced an unexpected error'],
  1: ['OFFSET_OUT_OF_RANGE', false, 'the requested offset is not within the range of offsets maintained by the server'],
  2: ['CORRUPT_MESSAGE', true, 'the message failed its CRC check, exceeded the valid size, has a null key for a compacted topic, or is otherwise corrupt'],
  3: ['UNKNOWN_TOPIC_OR_PARTITION', true, 'this server does not host this topic-partition'],
  4: ['INVALID_FETCH_SIZE', false, 'the requested fetch size is invalid'],
  5: ['LEADER_NOT_AVAILABLE', true, 'there is no leader for this topic-partition as we are in the middle of a leadership election'],
  6: ['NOT_LEADER_OR_FOLLOWER', true, 'this server is not the leader or a follower for that topic-partition'],
  7: ['REQUEST_TIMED_OUT', true, 'the request timed out'],
  8: ['BROKER_NOT_AVAILABLE', false, 'the broker is not available'],
  9: ['REPLICA_NOT_AVAILABLE', true, 'the replica is not available for the requested topic-partition'],
  10: ['MESSAGE_TOO_LARGE', false, 'the request included a message larger than the max message size the server will accept'],
  11: ['STALE_CONTROLLER_EPOCH', false, 'the controller moved to another broker'],
  12: ['OFFSET_METADATA_TOO_LARGE', false, 'the metadata field of the offset request was too large'],
  13: ['NETWORK_EXCEPTION', true, 'the server disconnected before a response was received'],
  14: ['COORDINATOR_LOAD_IN_PROGRESS', true, 'the coordinator is loading and hence can\'t process requests'],
  15: ['COORDINATOR_NOT_AVAILABLE', true, 'the coordinator is not available'],
  16: ['NOT_COORDINATOR', true, 'this is not the correct coordinator'],
  17: ['INVALID_TOPIC_EXCEPTION', false, 'the request attempted to perform an operation on an invalid topic'],
  18: ['RECORD_LIST_TOO_LARGE', false, 'the request included message batch larger than the configured segment size on the server'],
  19: ['NOT_ENOUGH_REPLICAS', true, 'messages are rejected since there are fewer in-sync replicas than required'],
  20: ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', true, 'messages are written to the log, but to fewer in-sync replicas than required'],
  21: ['INVALID_REQUIRED_ACKS', false, 'produce request specified an invalid value for required acks'],
  22: ['ILLEGAL_GENERATION', false, 'specified group generation id is not valid'],
  23: ['INCONSISTENT_GROUP_PROTOCOL', false, 'the group member\'s supported protocols are incompatible with those of existing members'],
  24: ['INVALID_GROUP_ID', false, 'the configured groupId is invalid'],
  25: ['UNKNOWN_MEMBER_ID', false, 'the coordinator is not aware of this member'],
  26: ['INVALID_SESSION_TIMEOUT', false, 'the session timeout is not within the range allowed by the broker'],
  27: ['REBALANCE_IN_PROGRESS', false, 'the group is rebalancing, so a rejoin is needed'],
  28: ['INVALID_COMMIT_OFFSET_SIZE', false, 'the committing offset data size is not valid'],
  29: ['TOPIC_AUTHORIZATION_FAILED', false, 'topic authorization failed'],
  30: ['GROUP_AUTHORIZATION_FAILED', false, 'group authorization failed'],
  31: ['CLUSTER_AUTHORIZATION_FAILED', false, 'cluster authorization failed'],
  32: ['INVALID_TIMESTAMP', false, 'the timestamp of the message is out of acceptable range'],
  33: ['UNSUPPORTED_SASL_MECHANISM', false, 'the broker does not support the requested SASL mechanism'],
  34: ['ILLEGAL_SASL_STATE', false, 'request is not valid given the current SASL state'],
  35: ['UNSUPPORTED_VERSION', false, 'the version of API is not supported'],
  36: ['TOPIC_ALREADY_EXISTS', false, 'topic with this name already exists'],
  37: ['INVALID_PARTITIONS', false, 'number of partitions is below 1'],
  38: ['INVALID_REPLICATION_FACTOR', false, 'replication factor is below 1 or larger than the number of available brokers'],
  39: ['INVALID_REPLICA_ASSIGNMENT', false, 'replica assignment is invalid'],
  40: ['INVALID_CONFIG', false, 'configuration is invalid'],
  41: ['NOT_CONTROLLER', true, 'this is not the correct controller for this cluster'],
  42: ['INVALID_REQUEST', false, 'this most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker'],
  43: ['UNSUPPORTED_FOR_MESSAGE_FORMAT', false, 'the message format version on the broker does not support the request'],
  44: ['POLICY_VIOLATION', false, 'request parameters do not satisfy the configured policy'],
  45: ['OUT_OF_ORDER_SEQUENCE_NUMBER', false, 'the broker received an out of order sequence number'],
  46: ['DUPLICATE_SEQUENCE_NUMBER', false, 'the broker received a duplicate sequence number'],
  47: ['INVALID_PRODUCER_EPOCH', false, 'producer attempted to produce with an old epoch'],
  48: ['INVALID_TXN_STATE', false, 'the producer attempted a transactional operation in an invalid state'],
  49: ['INVALID_PRODUCER_ID_MAPPING', false, 'the producer attempted to use a producer id which is not currently assigned to its transactional id'],
  50: ['INVALID_TRANSACTION_TIMEOUT', false, 'the transaction timeout is larger than the maximum value allowed by the broker'],
  51: ['CONCURRENT_TRANSACTIONS', true, 'the producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing'],
  52: ['TRANSACTION_COORDINATOR_FENCED', false, 'this transaction coordinator is fenced'],
  53: ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', false, 'transactional id authorization failed'],
  54: ['SECURITY_DISABLED', false, 'security features are disabled'],
  55: ['OPERATION_NOT_ATTEMPTED', false, 'the broker did not attempt to execute this operation'],
  56: ['KAFKA_STORAGE_ERROR', true, 'disk error when trying to access log file on the disk'],
  57: ['LOG_DIR_NOT_FOUND', false, 'the user-specified log directory is not found in the broker config'],
  58: ['SASL_AUTHENTICATION_FAILED', false, 'SASL authentication failed'],
  59: ['UNKNOWN_PRODUCER_ID', false, 'the broker could not locate the producer metadata associated with the producer id'],
  60: ['REASSIGNMENT_IN_PROGRESS', false, 'a partition reassignment is in progress'],
  61: ['DELEGATION_TOKEN_AUTH_DISABLED', false, 'delegation token feature is not enabled'],
  62: ['DELEGATION_TOKEN_NOT_FOUND', false, 'delegation token is not found on server'],
  63: ['DELEGATION_TOKEN_OWNER_MISMATCH', false, 'specified principal is not valid owner/renewer'],
  64: ['DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', false, 'delegation token requests are not allowed on this connection'],
  65: ['DELEGATION_TOKEN_AUTHORIZATION_FAILED', false, 'delegation token authorization failed'],
  66: ['DELEGATION_TOKEN_EXPIRED', false, 'delegation token is expired'],
  67: ['INVALID_PRINCIPAL_TYPE', false, 'supplied principalType is not supported'],
  68: ['NON_EMPTY_GROUP', false, 'the group is not empty'],
  69: ['GROUP_ID_NOT_FOUND', false, 'the group id does not exist'],
  70: ['FETCH_SESSION_ID_NOT_FOUND', true, 'the fetch session id was not found'],
  71: ['INVALID_FETCH_SESSION_EPOCH', true, 'the fetch session epoch is invalid'],
  72: ['LISTENER_NOT_FOUND', true, 'there is no listener on the leader broker that matches the listener on which metadata request was processed'],
  73: ['TOPIC_DELETION_DISABLED', false, 'topic deletion is disabled'],
  74: ['FENCED_LEADER_EPOCH', true, 'the leader epoch in the request is older than the epoch on the broker'],
  75: ['UNKNOWN_LEADER_EPOCH', true, 'the leader epoch in the request is newer than the epoch on the broker'],
  76: ['UNSUPPORTED_COMPRESSION_TYPE', false, 'the requesting client does not support the compression type of given partition'],
  77: ['STALE_BROKER_EPOCH', false, 'broker epoch has changed'],
  78: ['OFFSET_NOT_AVAILABLE', true, 'the leader high watermark has not caught up from a recent leader election'],
  79: ['MEMBER_ID_REQUIRED', false, 'the group member needs to have a valid member id before actually entering a consumer group'],
  80: ['PREFERRED_LEADER_NOT_AVAILABLE', true, 'the preferred leader was not available'],
  81: ['GROUP_MAX_SIZE_REACHED', false, 'the consumer group has reached its max size'],
  82: ['FENCED_INSTANCE_ID', false, 'the broker rejected this static consumer since another consumer with the same group.instance.id has registered'],
  83: ['ELIGIBLE_LEADERS_NOT_AVAILABLE', true, 'eligible topic partition leaders are not available'],
  84: ['ELECTION_NOT_NEEDED', true, 'leader election not needed for topic partition'],
  85: ['NO_REASSIGNMENT_IN_PROGRESS', false, 'no partition reassignment is in progress'],
  86: ['GROUP_SUBSCRIBED_TO_TOPIC', false, 'deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it'],
  87: ['INVALID_RECORD', false, 'this record has failed the validation on broker and hence will be rejected'],
  88: ['UNSTABLE_OFFSET_COMMIT', true, 'there are unstable offsets that need to be cleared'],
  89: ['THROTTLING_QUOTA_EXCEEDED', true, 'the throttling quota has been exceeded'],
  90: ['PRODUCER_FENCED', false, 'there is a newer producer with the same transactionalId which fences the current one'],
  91: ['RESOURCE_NOT_FOUND', false, 'a request illegally referred to a resource that does not exist'],
  92: ['DUPLICATE_RESOURCE', false, 'a request illegally referred to the same resource twice'],
  93: ['UNACCEPTABLE_CREDENTIAL', false, 'requested credential would not meet criteria for acceptability'],
  94: ['INCONSISTENT_VOTER_SET', false, 'the voter set is inconsistent'],
  95: ['INVALID_UPDATE_VERSION', false, 'the given update version was invalid'],
  96: ['FEATURE_UPDATE_FAILED', false, 'unable to update finalized features due to an unexpected server error'],
  97: ['PRINCIPAL_DESERIALIZATION_FAILURE', false, 'request principal deserialization failed during forwarding'],
  98: ['SNAPSHOT_NOT_FOUND', false, 'requested snapshot was not found'],
  99: ['POSITION_OUT_OF_RANGE', false, 'requested position is not greater than or equal to zero, and less than the size of the snapshot'],
  100: ['UNKNOWN_TOPIC_ID', true, 'this server does not host this topic ID'],
  101: ['DUPLICATE_BROKER_REGISTRATION', false, 'this broker ID is already in use'],
  102: ['BROKER_ID_NOT_REGISTERED', false, 'the given broker ID was not registered'],
  103: ['INCONSISTENT_TOPIC_ID', true, 'the log\'s topic ID did not match the topic ID in the request'],
  104: ['INCONSISTENT_CLUSTER_ID', false, 'the clusterId in the request does not match that found on the server'],
  105: ['TRANSACTIONAL_ID_NOT_FOUND', false, 'the transactionalId could not be found'],
  106: ['FETCH_SESSION_TOPIC_ID_ERROR', true, 'the fetch session encountered inconsistent topic ID usage'],
  107: ['INELIGIBLE_REPLICA', false, 'the new ISR contains at least one ineligible replica'],
  108: ['NEW_LEADER_ELECTED', false, 'the AlterPartition request successfully updated the partition state but the leader has changed'],
  109: ['OFFSET_MOVED_TO_TIERED_STORAGE', false, 'the requested offset is moved to tiered storage'],
  110: ['FENCED_MEMBER_EPOCH', false, 'the member epoch is fenced by the group coordinator'],
  111: ['UNRELEASED_INSTANCE_ID', false, 'the instance ID is still used by another member in the consumer group'],
  112: ['UNSUPPORTED_ASSIGNOR', false, 'the assignor or its version range is not supported by the consumer group'],
  113: ['STALE_MEMBER_EPOCH', false, 'the member epoch is stale'],
};

/** Kafka's name for an error code ('UNKNOWN_ERROR_CODE(n)' for codes this table does not know). */
export function kafkaErrorName(code: number): string {
  return ERRORS[code]?.[0] ?? `UNKNOWN_ERROR_CODE(${code})`;
}

/** Whether Kafka marks the error retriable (a retry may succeed without changing the request). */
export function isRetriableKafkaError(code: number): boolean {
  return ERRORS[code]?.[1] ?? false;
}

/** A non-zero error code in a Kafka response. `message` reads e.g. "topic 'x': UNKNOWN_TOPIC_OR_PARTITION: …". */
export class KafkaProtocolError extends Error {
  /** The numeric Kafka error code. */
  readonly errorCode: number;
  /** Kafka's enum name, e.g. UNKNOWN_TOPIC_OR_PARTITION. */
  readonly errorName: string;
  readonly retriable: boolean;
  constructor(errorCode: number, context?: string, brokerMessage?: string | null) {
    const name = kafkaErrorName(errorCode);
    const text = brokerMessage || ERRORS[errorCode]?.[2] || 'unknown error';
    super(`${context ? `${context}: ` : ''}${name}: ${text}`);
    this.name = 'KafkaProtocolError';
    this.errorCode = errorCode;
    this.errorName = name;
    this.retriable = isRetriableKafkaError(errorCode);
  }
}

/** Throws a KafkaProtocolError when `code` is not 0. */
export function checkKafkaError(code: number, context?: string, brokerMessage?: string | null): void {
  if (code !== 0) throw new KafkaProtocolError(code, context, brokerMessage);
}

export type ConnectionFailure = 'unreachable' | 'timeout' | 'closed';

/**
 * The broker could not be reached, went away, or did not answer in time. Code TIMEOUT for timeouts and
 * CLOSED for a refused or dropped connection (the library has no dedicated connection code).
 */
export class KafkaConnectionError extends SluiceError {
  readonly host: string;
  readonly port: number;
  readonly failure: ConnectionFailure;
  constructor(failure: ConnectionFailure, host: string, port: number, message: string, options?: { cause?: unknown }) {
    super(failure === 'timeout' ? 'TIMEOUT' : 'CLOSED', message, options);
    this.name = 'KafkaConnectionError';
    this.host = host;
    this.port = port;
    this.failure = failure;
  }
}
