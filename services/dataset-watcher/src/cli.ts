import { parseArgs } from 'node:util';
import { DatasetWatcherConfigSchema, loadConfig, storeSettings } from '@mlpipe/config';
import { createObjectStore, FsObjectStore } from '@mlpipe/storage';
import { DatasetNameSchema, INCOMING_MANIFEST_FILE } from '@mlpipe/contracts';
import { describeError, ValidationError } from '@mlpipe/common';
import { DEFAULT_POLICY, readIncomingBatch, sampleHashes, seedDataset, validateBatch } from '@mlpipe/dataset';

const USAGE = `usage: mlpipe-data seed mnist|fashion-mnist [--train-limit N] [--test-limit N] [--batch-name NAME]
       mlpipe-data validate PREFIX          (a batch folder in the store, e.g. incoming/my-batch/)
       mlpipe-data validate --dir DIR       (a batch folder on this machine, with its ${INCOMING_MANIFEST_FILE})`;

const limit = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`--${name} must be a positive whole number, got "${v}"`);
  return n;
};

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      'batch-name': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig(DatasetWatcherConfigSchema);
  if (command === 'seed') {
    const dataset = DatasetNameSchema.safeParse(arg);
    if (!dataset.success) throw new ValidationError(`seed takes mnist or fashion-mnist, got "${arg ?? ''}"`);
    const store = createObjectStore(storeSettings(config));
    await store.ensureReady();
    const batchName = values['batch-name'];
    if (batchName !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(batchName)) {
      throw new ValidationError('--batch-name takes lower-case letters, digits and "-"');
    }
    const dropped = await seedDataset(store, config.DATA_PREFIX, dataset.data, {
      ...(values['train-limit'] ? { trainLimit: limit(values['train-limit'], 'train-limit') } : {}),
      ...(values['test-limit'] ? { testLimit: limit(values['test-limit'], 'test-limit') } : {}),
      ...(batchName ? { batchName } : {}),
    });
    for (const d of dropped) console.log(`dropped ${d.samples} ${d.split} samples at ${d.prefix} in ${store.description}`);
    return 0;
  }
  if (command === 'validate') {
    const store = values.dir ? new FsObjectStore(values.dir) : createObjectStore(storeSettings(config));
    const prefix = values.dir ? '' : (arg ?? '');
    if (!values.dir && !prefix.endsWith('/')) throw new ValidationError('validate takes a batch folder ending in "/", or --dir DIR');
    const decoded = await readIncomingBatch(store, prefix);
    const reasons = decoded.ok ? validateBatch(decoded.set, sampleHashes(decoded.set), () => false, DEFAULT_POLICY) : undefined;
    const problems = decoded.ok ? (reasons?.reasons ?? []) : decoded.reasons;
    if (!problems.length) {
      console.log(`valid: ${decoded.ok ? decoded.set.count : 0} samples; class counts ${reasons?.classCounts.join(' ')}`);
      for (const w of [...(decoded.ok ? decoded.warnings : []), ...(reasons?.warnings ?? [])]) console.log(`warning: ${w}`);
      return 0;
    }
    for (const p of problems) console.log(`invalid: ${p}`);
    return 1;
  }
  throw new ValidationError(`unknown command "${command}"; run with --help`);
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`mlpipe-data: ${describeError(err)}`);
    process.exit(1);
  },
);
