/**
 * Sluice's own addon (native-bindings/src/*.c, built by `npm install` with node-gyp): CRC-32C and releasing
 * file mappings. Loaded once, from src (tsx) or dist/native-bindings (compiled).
 */
import { createRequire } from 'node:module';

export interface SluiceNative {
  readonly available: boolean;
  crc32c(buf: Uint8Array, start?: number, end?: number): number;
  releaseMapping(buf: Buffer): void;
}

function loadNative(): SluiceNative {
  const require = createRequire(import.meta.url);
  // the addon lives beside the C sources, in build/Release
  for (const p of ['./build/Release/sluice_native.node', '../../native-bindings/build/Release/sluice_native.node']) {
    try {
      return require(p) as SluiceNative;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error("Sluice's native addon is not built: run `npm install` (it runs node-gyp in native-bindings/)");
}

export const sluiceNative: SluiceNative = loadNative();
