import { createCampaignSchema } from '@coopt/shared';
import { createCampaign } from '../../campaigns/create-campaign.ts';
import { requireAdmin } from '../../http/admin-auth.ts';
import { createRouter } from '../../http/app-env.ts';
import { validate } from '../../http/validate.ts';

export const adminCampaignsRoute = createRouter()
  .use(requireAdmin)
  .post('/', validate('json', createCampaignSchema), async (c) =>
    c.json(await createCampaign(c.var.deps, c.req.valid('json')), 201),
  );
