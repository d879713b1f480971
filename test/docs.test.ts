import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderCliReference, renderConfigReference } from '../src/cli/docs.js';
import { REPO_ROOT as repoRoot } from './cli/cli-helpers.js';

test('docs/cli.md is generated from the command definitions and current', () => {
  assert.equal(readFileSync(`${repoRoot}/docs/cli.md`, 'utf8'), renderCliReference(), 'run `npm run docs`');
});

test('docs/configuration.md is generated from the config tables and current', () => {
  assert.equal(readFileSync(`${repoRoot}/docs/configuration.md`, 'utf8'), renderConfigReference(), 'run `npm run docs`');
});
