import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateRing, RingConsumer, RingProducer } from '../../src/engine/ring.js';

function fill(buf: Buffer, pos: number, len: number, seed: number): void {
  for (let i = 0; i < len; i++) buf[pos + i] = (seed + i * 7) & 0xff;
}
function check(buf: Buffer, pos: number, len: number, seed: number): boolean {
  for (let i = 0; i < len; i++) if (buf[pos + i] !== ((seed + i * 7) & 0xff)) return false;
  return true;
}

test('ring: entries come out in order, intact, across many wrap-arounds', () => {
  const sab = allocateRing(4096);
  const prod = new RingProducer(sab);
  const cons = new RingConsumer(sab);
  let written = 0;
  let read = 0;
  let rnd = 12345;
  const next = (): number => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff);
  while (read < 20000) {
    // write a random number of random-sized entries until full
    for (let k = next() % 8; k >= 0; k--) {
      const len = next() % 700;
      const pos = prod.reserve(len);
      if (pos < 0) break;
      fill(prod.data, pos, len, written);
      prod.commit(len, written, len, 7);
      written++;
    }
    for (let k = next() % 8; k >= 0; k--) {
      const e = cons.next();
      if (!e) break;
      assert.equal(e.a, read);
      assert.equal(e.b, e.len);
      assert.equal(e.c, 7);
      assert.ok(check(cons.data, e.pos, e.len, read), `entry ${read} corrupted`);
      read++;
      if (next() % 3 === 0) cons.release();
    }
    cons.release();
  }
  assert.ok(written >= read);
});

test('ring: full ring refuses, entries above half the ring are rejected', () => {
  const sab = allocateRing(4096);
  const prod = new RingProducer(sab);
  const cons = new RingConsumer(sab);
  assert.throws(() => prod.reserve(prod.maxPayloadBytes + 1), RangeError);
  let n = 0;
  for (;;) {
    const pos = prod.reserve(1000);
    if (pos < 0) break;
    prod.commit(1000, n++, 0, 0);
  }
  assert.ok(n >= 3 && n <= 4);
  assert.equal(prod.fits(1000), false);
  assert.ok(cons.next());
  cons.release();
  assert.equal(prod.fits(1000), true);
});

test('ring: waitForSpace and waitForData wake across threads', async () => {
  const { Worker } = await import('node:worker_threads');
  const sab = allocateRing(8192);
  const prod = new RingProducer(sab);
  // The worker echoes a checksum of every entry it consumes, slowly enough to force back-pressure.
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    const sab = workerData;
    const ctl = new Int32Array(sab, 0, 64);
    const words = new Int32Array(sab, 256);
    const data = Buffer.from(sab, 256);
    const cap = sab.byteLength - 256;
    let tail = 0, sum = 0, count = 0;
    const keepAlive = setInterval(() => {}, 1000); // a pending waitAsync alone does not keep a thread alive
    (async () => {
      for (;;) {
        let head = Atomics.load(ctl, 0);
        if (head === tail) {
          Atomics.store(ctl, 32, 1);
          const r = Atomics.waitAsync(ctl, 0, tail, 1000);
          if (r.async) await r.value;
          continue;
        }
        while (tail !== head) {
          let pos = tail & (cap - 1);
          let len = words[pos >> 2];
          if (len === -1) { tail = (tail + cap - pos) | 0; pos = 0; len = words[0]; }
          for (let i = 0; i < len; i++) sum = (sum + data[pos + 16 + i]) | 0;
          count++;
          tail = (tail + ((16 + len + 7) & ~7)) | 0;
        }
        Atomics.store(ctl, 16, tail);
        if (Atomics.load(ctl, 48)) { Atomics.store(ctl, 48, 0); Atomics.notify(ctl, 16); }
        if (count === 2000) { clearInterval(keepAlive); parentPort.postMessage(sum); return; }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();`;
  const w = new Worker(src, { eval: true, workerData: sab });
  const done = new Promise<number>((res) => w.once('message', res));
  let expected = 0;
  for (let i = 0; i < 2000; i++) {
    const len = 50 + (i % 900);
    let pos = prod.reserve(len);
    while (pos < 0) {
      await prod.waitForSpace(1000);
      pos = prod.reserve(len);
    }
    for (let j = 0; j < len; j++) {
      prod.data[pos + j] = (i + j) & 0xff;
      expected = (expected + ((i + j) & 0xff)) | 0;
    }
    prod.commit(len, i, 0, 0);
  }
  assert.equal(await done, expected);
  await w.terminate();
});

test('ring: batched wake-ups are never lost (ping-pong with two consumer threads)', async () => {
  // Regression: the waking side used to clear the sleeper's flag; a wake-up for entries the consumer had
  // already drained could clear the flag of its next wait, which then slept unflagged and missed every
  // later wake-up. Ping-pong with batched wake-ups hit it within about a million round trips.
  const { Worker } = await import('node:worker_threads');
  const total = 1_000_000;
  const window = 128;
  const pairs = [0, 1].map(() => ({ a: allocateRing(1 << 16), b: allocateRing(1 << 16) }));
  const workers = pairs.map((p) => new Worker(new URL('./fixtures/ring-echo.js', import.meta.url), { workerData: p }));
  const out = pairs.map((p) => new RingProducer(p.a));
  const back = pairs.map((p) => new RingConsumer(p.b));
  const wakeQueued = [false, false];
  let sent = 0;
  let done = 0;
  const send = (): void => {
    while (sent < total && sent - done < window) {
      const w = sent & 1;
      const pos = out[w]!.reserve(8);
      if (pos < 0) return;
      out[w]!.publish(8, sent++, 0, 0);
      if (!wakeQueued[w]) {
        wakeQueued[w] = true;
        queueMicrotask(() => {
          wakeQueued[w] = false;
          out[w]!.wake();
        });
      }
    }
  };
  try {
    const finished = new Promise<void>((resolve, reject) => {
      let last = -1;
      let idleTicks = 0;
      const watch = setInterval(() => {
        if (done >= total) {
          clearInterval(watch);
          resolve();
        } else if (done !== last) {
          last = done;
          idleTicks = 0;
        } else if (++idleTicks >= 100) {
          clearInterval(watch);
          reject(new Error(`no progress for 2 s at ${done} of ${total} round trips: a wake-up was lost`));
        }
      }, 20);
      const drain = async (w: number): Promise<void> => {
        const c = back[w]!;
        while (done < total) {
          let n = 0;
          while (c.next() !== null) n++;
          if (n > 0) {
            c.release();
            done += n;
            send();
            continue;
          }
          await c.waitForData();
        }
      };
      send();
      void drain(0);
      void drain(1);
    });
    await finished;
    assert.equal(done, total);
  } finally {
    for (const w of workers) await w.terminate();
  }
});
