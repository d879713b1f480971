/**
 * DescribeLogDirs: one log directory (the engine's data directory) holding every partition, with each
 * partition's size on disk. Unknown topics and partitions are left out of the answer, as Kafka does.
 */
import { statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DescribeLogDirsRequest, DescribeLogDirsResponseInput, DescribeLogDirsResponseTopicInput } from '../../../kafka-protocol/generated/index.js';
import type { BrokerContext, RequestContext } from '../context.js';

export async function handleDescribeLogDirs(
  ctx: BrokerContext,
  req: DescribeLogDirsRequest,
  rc: RequestContext,
): Promise<DescribeLogDirsResponseInput> {
  const logDir = resolve(ctx.engine.dataDir);
  // Topic -> wanted partitions (null: all of them). Null topics in the request: every topic, internal ones too.
  const wanted = new Map<string, Set<number> | null>();
  if (req.topics === null) {
    for (const name of ctx.engine.listTopics({ includeInternal: true })) wanted.set(name, null);
  } else {
    for (const t of req.topics) {
      const s = wanted.get(t.topic) ?? new Set<number>();
      for (const p of t.partitions) s.add(p);
      wanted.set(t.topic, s);
    }
  }
  const described = await Promise.all(
    [...wanted].map(async ([name, partitions]): Promise<DescribeLogDirsResponseTopicInput | null> => {
      if (!ctx.engine.hasTopic(name)) return null;
      try {
        const d = await ctx.engine.describeTopic(name);
        return {
          name,
          partitions: d.partitions
            .filter((p) => partitions === null || partitions.has(p.partition))
            .map((p) => ({ partitionIndex: p.partition, partitionSize: BigInt(p.sizeBytes), offsetLag: 0n, isFutureKey: false })),
        };
      } catch {
        return null; // deleted meanwhile
      }
    }),
  );
  const topics = described.filter((t): t is DescribeLogDirsResponseTopicInput => t !== null && t.partitions.length > 0);
  const space = rc.apiVersion >= 4 ? volumeSpace(logDir) : { totalBytes: -1n, usableBytes: -1n };
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    results: [{ errorCode: 0, logDir, topics, ...space }],
  };
}

/** Total and usable bytes of the volume holding `dir`; -1 when they cannot be read. */
function volumeSpace(dir: string): { totalBytes: bigint; usableBytes: bigint } {
  try {
    const s = statfsSync(dir, { bigint: true });
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
  } catch {
    return { totalBytes: -1n, usableBytes: -1n };
  }
}
