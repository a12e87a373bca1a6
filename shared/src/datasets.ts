import { z } from 'zod';

export const datasetFormatSchema = z.enum(['idx', 'cifar', 'images']);
export type DatasetFormat = z.infer<typeof datasetFormatSchema>;

/** A dataset as anyone may see it: shape and size, never labels. */
export const datasetSummarySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  format: datasetFormatSchema,
  count: z.number().int(),
  height: z.number().int(),
  width: z.number().int(),
  channels: z.number().int(),
  createdAt: z.string(),
});
export type DatasetSummary = z.infer<typeof datasetSummarySchema>;

/** What admins see in addition: whether evaluation labels exist, and their classes. */
export const adminDatasetSchema = datasetSummarySchema.extend({
  hasLabels: z.boolean(),
  classNames: z.array(z.string()).nullable(),
  sourceHash: z.string(),
});
export type AdminDataset = z.infer<typeof adminDatasetSchema>;

/** Dataset names appear in URLs, file names and exports, so they stay plain. */
export const datasetNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit');

const blobKeySchema = z.string().regex(/^[0-9a-f]{64}$/, 'a blob key is 64 lower-case hex digits (SHA-256)');

/** A file uploaded earlier through POST /api/admin/blobs, with the name to use in error messages. */
export const uploadedFileSchema = z.object({
  blob: blobKeySchema,
  fileName: z
    .string()
    .max(200)
    .regex(/^[^/\\\0]+$/, 'a file name has no slashes or NUL bytes')
    .optional(),
});
export type UploadedFile = z.infer<typeof uploadedFileSchema>;

const imageSizeSchema = z.object({
  width: z.number().int().min(1).max(1024),
  height: z.number().int().min(1).max(1024),
});

/** Body of POST /api/admin/datasets: import from files uploaded earlier, or from a known source. */
export const datasetImportRequestSchema = z.discriminatedUnion('format', [
  z.object({
    format: z.literal('idx'),
    name: datasetNameSchema,
    images: uploadedFileSchema,
    labels: uploadedFileSchema.optional(),
  }),
  z.object({
    format: z.literal('cifar'),
    name: datasetNameSchema,
    batches: z.array(uploadedFileSchema).min(1).max(64),
    variant: z.union([z.literal(10), z.literal(100)]).optional(),
  }),
  z.object({
    format: z.literal('images'),
    name: datasetNameSchema,
    archive: uploadedFileSchema,
    size: imageSizeSchema.optional(),
  }),
  z.object({
    format: z.literal('source'),
    source: z.string().min(1).max(64),
  }),
]);
export type DatasetImportRequest = z.infer<typeof datasetImportRequestSchema>;

/** A dataset the server knows how to import without an upload (the demo data). */
export const datasetSourceSchema = z.object({
  id: z.string(),
  title: z.string(),
  available: z.boolean(),
  importedAs: z.number().int().nullable(),
});
export type DatasetSource = z.infer<typeof datasetSourceSchema>;
