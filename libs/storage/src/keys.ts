import { ValidationError } from '@mlpipe/common';

/**
 * Object keys come from events and requests, so they are checked before they reach a path or a
 * URL: relative, '/'-separated, no empty, '.' or '..' segments, printable, at most 1024 bytes.
 */
export function assertValidKey(key: string, { prefix = false } = {}): string {
  const problem = keyProblem(key, prefix);
  if (problem) throw new ValidationError(`invalid object key "${key.slice(0, 200)}": ${problem}`);
  return key;
}

function keyProblem(key: string, prefix: boolean): string | undefined {
  if (!prefix && key.length === 0) return 'it is empty';
  if (Buffer.byteLength(key) > 1024) return 'it is longer than 1024 bytes';
  if (key.startsWith('/')) return 'it must not start with "/"';
  if (key.includes('\\')) return 'it must not contain "\\"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'it contains control characters';
  const segments = key.split('/');
  const inner = prefix && key.endsWith('/') ? segments.slice(0, -1) : segments;
  if (prefix && key === '') return undefined;
  for (const s of inner) {
    if (s === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (s === '.' || s === '..') return 'it has a "." or ".." segment';
  }
  return undefined;
}
