import { z } from 'zod';
import { ConfigError } from '@mlpipe/common';

/**
 * Reads a service's config from the environment once (in main.ts). Only the keys the schema
 * names are read; every value is coerced and checked (a misspelt value fails at start-up with
 * the key named), and the result is frozen.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.output<S>> {
  const known = Object.keys(schema.shape);
  const picked: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const result = schema.safeParse(picked);
  if (!result.success) {
    throw new ConfigError(`invalid configuration: ${z.prettifyError(result.error).replace(/\n/g, '; ')}`);
  }
  return Object.freeze(result.data);
}
