/** Test helpers for the Kafka frontend tests (their in-process broker is `startBroker` in test/brokers.ts). */
/** Polls `cond` every 20 ms until it is true or `timeoutMs` passes. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
