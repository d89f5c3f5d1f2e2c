#!/usr/bin/env node
// mlpipe-tokens, run from the TypeScript source (libs run from source) through tsx's loader, which
// resolves from this file, so the command works from any folder.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { runTokensCli } = await import('../cli.ts');
process.exitCode = await runTokensCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
