import { AliasSchema, ModelNameSchema } from '@mlpipe/contracts';
import { ValidationError } from '@mlpipe/common';

export type ModelSelector = { name: string; version: number } | { name: string; alias: 'champion' | 'challenger' };

/** "mnist@champion", "mnist/3", "mnist" (= champion): validated, never used as a path. */
export function parseSelector(text: string): ModelSelector {
  const at = text.split('@');
  const slash = text.split('/');
  if (at.length === 2) {
    const name = ModelNameSchema.safeParse(at[0]);
    const alias = AliasSchema.safeParse(at[1]);
    if (name.success && alias.success) return { name: name.data, alias: alias.data };
  } else if (slash.length === 2) {
    const name = ModelNameSchema.safeParse(slash[0]);
    const version = Number(slash[1]);
    if (name.success && Number.isInteger(version) && version > 0 && /^\d+$/.test(slash[1] ?? '')) return { name: name.data, version };
  } else if (ModelNameSchema.safeParse(text).success) {
    return { name: text, alias: 'champion' };
  }
  throw new ValidationError(`model selector "${text.slice(0, 80)}" is not NAME, NAME@champion|challenger or NAME/VERSION`);
}
