import { z } from 'zod';

/** Identifiers that end up in subjects, keys and URLs: safe characters only, never a path. */
export const IdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit');

export const ModelNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-" only');

export const AliasSchema = z.enum(['champion', 'challenger']);
export type Alias = z.infer<typeof AliasSchema>;

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex SHA-256');

export const DatasetNameSchema = z.enum(['mnist', 'fashion-mnist']);
export type DatasetName = z.infer<typeof DatasetNameSchema>;

export const SplitSchema = z.enum(['train', 'test']);
export type Split = z.infer<typeof SplitSchema>;

export const NUM_CLASSES = 10;
export const ClassCountsSchema = z.array(z.number().int().nonnegative()).length(NUM_CLASSES);

export const ModelArchSchema = z.enum(['cnn-small', 'cnn-deep', 'cnn-wide']);
export type ModelArch = z.infer<typeof ModelArchSchema>;

export const TimestampSchema = z.iso.datetime({ offset: true });
