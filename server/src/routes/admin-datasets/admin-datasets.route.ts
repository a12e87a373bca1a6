import { type DatasetSource, datasetImportRequestSchema } from '@coopt/shared';
import { findDatasetByName } from '../../datasets/dataset-importer.ts';
import { listAdminDatasets, toSummary } from '../../datasets/dataset-views.ts';
import { importFromRequest } from '../../datasets/import-request.ts';
import { isAvailable, knownSources } from '../../datasets/known-sources.ts';
import { requireAdmin } from '../../http/admin-auth.ts';
import { createRouter } from '../../http/app-env.ts';
import { validate } from '../../http/validate.ts';

export const adminDatasetsRoute = createRouter()
  .use(requireAdmin)
  .get('/', async (c) => c.json({ datasets: await listAdminDatasets(c.var.deps.database) }))
  .get('/sources', async (c) => {
    const sources: DatasetSource[] = await Promise.all(
      knownSources.map(async (s) => ({
        id: s.id,
        title: s.title,
        available: isAvailable(s),
        importedAs: (await findDatasetByName(c.var.deps.database, s.datasetName))?.id ?? null,
      })),
    );
    return c.json({ sources });
  })
  .post('/', validate('json', datasetImportRequestSchema), async (c) => {
    const dataset = await importFromRequest(c.var.deps, c.req.valid('json'));
    return c.json(toSummary(dataset), 201);
  });
