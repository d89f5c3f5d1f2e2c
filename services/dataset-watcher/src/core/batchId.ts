import { INCOMING_MANIFEST_FILE } from '@mlpipe/contracts';

/** A readable, safe batch id from its incoming folder: "incoming/My Batch 7/" → "My-Batch-7". */
export function batchIdOf(prefix: string): string {
  const name = prefix.replace(/\/$/, '').split('/').pop() ?? 'batch';
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100);
  return safe || 'batch';
}

/** The incoming folder of a manifest key, or undefined when the key is not a batch manifest. */
export function batchPrefixOf(key: string): string | undefined {
  return key.endsWith(`/${INCOMING_MANIFEST_FILE}`) ? key.slice(0, -INCOMING_MANIFEST_FILE.length) : undefined;
}
