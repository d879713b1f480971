#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript under dist/ (built by `npm install` via the prepare script).
import('../dist/src/cli/sluice.js').catch((err) => {
  process.stderr.write(`sluice: cannot load the CLI (${err && err.message}); run \`npm run build\` first\n`);
  process.exit(1);
});
