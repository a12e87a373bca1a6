import { z } from 'zod';
import { listCampaigns } from '../../campaigns/create-campaign.ts';
import { createRouter } from '../../http/app-env.ts';
import { AppError } from '../../http/app-error.ts';
import { validate } from '../../http/validate.ts';

const idParam = z.object({ id: z.coerce.number().int().positive() });

export const campaignsRoute = createRouter()
  .get('/', async (c) => c.json({ campaigns: await listCampaigns(c.var.deps.database) }))
  .get('/:id', validate('param', idParam), async (c) => {
    const campaign = (await listCampaigns(c.var.deps.database)).find((x) => x.id === c.req.valid('param').id);
    if (!campaign) throw AppError.notFound(`no campaign with id ${c.req.valid('param').id}`);
    return c.json(campaign);
  });
