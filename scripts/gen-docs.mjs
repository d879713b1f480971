#!/usr/bin/env node
// Writes docs/cli.md and docs/configuration.md from the compiled code (run `npm run build` first).
import { writeFileSync } from 'node:fs';
const { renderCliReference, renderConfigReference } = await import('../dist/src/cli/docs.js');
writeFileSync(new URL('../docs/cli.md', import.meta.url), renderCliReference());
writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigReference());
console.log('wrote docs/cli.md and docs/configuration.md');
