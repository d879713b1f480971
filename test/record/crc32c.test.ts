import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { crc32c, crc32cFallback, crc32cImplementation } from '../../native-bindings/crc32c.js';

/** Bit-at-a-time CRC-32C straight from the definition: the oracle. */
function referenceCrc32c(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('crc32c: the check value and known vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa); // RFC 3720 B.4
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
});

test('crc32c: the SSE4.2 addon is used where the CPU has SSE4.2', () => {
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: nothing to assert about the CPU
  }
  if (process.arch === 'x64' && /\bsse4_2\b/.test(flags)) assert.equal(crc32cImplementation, 'sluice-sse4.2');
  else assert.equal(crc32cImplementation, '@node-rs/crc32');
});

test('crc32c: every length across the three-lane boundaries agrees with the definition and the fallback', () => {
  // 3 x 256 and 3 x 4096 are the lane blocks: cover each side of them and unaligned starts
  const big = Buffer.alloc(3 * 4096 * 2 + 3 * 256 * 2 + 64);
  for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >>> 7)) & 0xff;
  const lengths = [0, 1, 7, 8, 9, 767, 768, 769, 1536, 12287, 12288, 12289, 13056, 24576, 24577, big.length - 8];
  for (const len of lengths) {
    for (const start of [0, 1, 3, 7]) {
      const view = big.subarray(start, start + len);
      const want = referenceCrc32c(view);
      assert.equal(crc32c(view), want, `length ${len} from ${start}`);
      assert.equal(crc32c(big, start, start + len), want, `range [${start}, ${start + len})`);
      assert.equal(crc32cFallback(view), want);
    }
  }
});

test('crc32c: arbitrary bytes and ranges (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length ? a % (bytes.length + 1) : 0;
      const end = start + (bytes.length - start ? b % (bytes.length - start + 1) : 0);
      assert.equal(crc32c(bytes, start, end), referenceCrc32c(bytes.subarray(start, end)));
    }),
    { numRuns: 300 },
  );
});

test('crc32c: bad arguments are TypeErrors, never a read outside the array (addon and fallback alike)', () => {
  const b = Buffer.from('0123456789');
  for (const [name, f] of [['crc32c', crc32c], ['fallback', crc32cFallback]] as const) {
    const call = f as (...a: unknown[]) => number;
    for (const args of [[b, -1], [b, 11], [b, 5, 4], [b, 0, 11], [b, 1.5], [b, Number.NaN]] as const) {
      assert.throws(() => call(...args), TypeError, `${name} args ${String(args.slice(1))}`);
    }
    assert.throws(() => call('text'), TypeError);
    assert.throws(() => call(new Uint8ClampedArray(4)), TypeError);
    assert.equal(f(b, 2, undefined), referenceCrc32c(b.subarray(2)));
    assert.equal(f(b, 3, 9), referenceCrc32c(b.subarray(3, 9)));
  }
});
