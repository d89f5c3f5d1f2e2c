import type { z } from 'zod';
import { ValidationError } from '@mlpipe/common';
import type { ObjectStore } from './types';

export async function putJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.put(key, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`), { contentType: 'application/json' });
}

/** Reads a JSON object, validated by `schema` when given (a bad document is a ValidationError). */
export async function getJson<S extends z.ZodType>(store: ObjectStore, key: string, schema: S): Promise<z.output<S>>;
export async function getJson(store: ObjectStore, key: string): Promise<unknown>;
export async function getJson(store: ObjectStore, key: string, schema?: z.ZodType): Promise<unknown> {
  const text = new TextDecoder().decode(await store.get(key));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(`${key} is not JSON`, { cause });
  }
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`${key} does not match its schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
