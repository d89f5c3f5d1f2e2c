#!/usr/bin/env node
// mlpipe-dlq, run from the TypeScript source (libs run from source) through tsx's loader, which
// resolves from this file, so the command works from any folder.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { runDlqCli } = await import('../dlqCli.ts');
process.exitCode = await runDlqCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
