/** Releasing a file mapping at once (before its file is deleted): slices still held read zeros, nothing faults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mapFile, releaseMapping } from '../../native-bindings/mmap.js';
import { rmDir, tempDir } from './helpers.js';

test('releaseMapping: the file is let go at once, held slices read zeros, anything else is left alone', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'seg.log');
    fs.writeFileSync(file, Buffer.alloc(3 * 4096 + 100, 7));
    const fd = fs.openSync(file, 'r');
    const map = mapFile(fd, fs.fstatSync(fd).size, 'r');
    fs.closeSync(fd);
    const mapped = (): boolean => fs.readFileSync('/proc/self/maps', 'utf8').includes(file);
    const haveMaps = fs.existsSync('/proc/self/maps');
    if (haveMaps) assert.ok(mapped(), 'the file is mapped');
    const slice = map.subarray(4000, 9000);
    assert.equal(slice[0], 7);
    releaseMapping(slice); // a slice is not a mapping: no-op
    assert.equal(map[5000], 7);
    const heap = Buffer.alloc(8192, 1);
    releaseMapping(heap); // not from mapFile: no-op
    assert.equal(heap[0], 1);
    releaseMapping(map);
    if (haveMaps) assert.ok(!mapped(), 'the mapping still refers to the file after release');
    assert.equal(slice.length, 5000);
    assert.ok(slice.every((b) => b === 0), 'a slice of a released mapping reads zeros');
    assert.equal(map[map.length - 1], 0);
    releaseMapping(map); // twice: no-op
    fs.unlinkSync(file);
  } finally {
    rmDir(dir);
  }
});
