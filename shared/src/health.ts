import { z } from 'zod';

export const databaseKindSchema = z.enum(['pglite', 'postgres']);
export type DatabaseKind = z.infer<typeof databaseKindSchema>;

export const healthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  database: z.object({
    kind: databaseKindSchema,
    migration: z.string().nullable(),
    appliedMigrations: z.number().int(),
  }),
});
export type Health = z.infer<typeof healthSchema>;
