/**
 * Kafka protocol error codes used by the group coordinator, named and numbered as in Kafka's
 * `org.apache.kafka.common.protocol.Errors` enum. Responses carry these numbers on the wire.
 */
export const KafkaErrors = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  GROUP_AUTHORIZATION_FAILED: 30,
  KAFKA_STORAGE_ERROR: 56,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  GROUP_SUBSCRIBED_TO_TOPIC: 86,
  UNSTABLE_OFFSET_COMMIT: 88,
} as const;

export type KafkaErrorName = keyof typeof KafkaErrors;

/** A Kafka error code. Kept as `number` so codes from other layers (e.g. a storage error) pass through. */
export type KafkaErrorCode = number;

const NAMES = new Map<number, KafkaErrorName>(
  (Object.entries(KafkaErrors) as [KafkaErrorName, number][]).map(([name, code]) => [code, name]),
);

/** The Errors-enum name of a code, for logs and test messages ('UNKNOWN(n)' for codes not listed here). */
export function kafkaErrorName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN(${code})`;
}
