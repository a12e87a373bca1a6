import { createCampaignSchema } from '@coopt/shared';
import { z } from 'zod';
import { createCampaign } from '../../campaigns/create-campaign.ts';
import { openNextRound } from '../../campaigns/new-round.ts';
import { requireAdmin } from '../../http/admin-auth.ts';
import { createRouter } from '../../http/app-env.ts';
import { validate } from '../../http/validate.ts';
import { queueTrainingRun } from '../../training/queue-training-run.ts';
import { trainingRunRequest } from '../../training/training-run-config.ts';

const idParam = z.object({ id: z.coerce.number().int().positive() });
const roundParam = z.object({
  id: z.coerce.number().int().positive(),
  round: z.coerce.number().int().positive(),
});
const newRoundSchema = z.object({ addPriorIds: z.array(z.number().int().positive()).max(32).default([]) });

export const adminCampaignsRoute = createRouter()
  .use(requireAdmin)
  .post('/', validate('json', createCampaignSchema), async (c) =>
    c.json(await createCampaign(c.var.deps, c.req.valid('json')), 201),
  )
  .post('/:id/rounds', validate('param', idParam), validate('json', newRoundSchema), async (c) =>
    c.json(await openNextRound(c.var.deps.database, c.req.valid('param').id, c.req.valid('json').addPriorIds), 201),
  )
  .post(
    '/:id/rounds/:round/training-runs',
    validate('param', roundParam),
    validate('json', trainingRunRequest),
    async (c) => {
      const { id, round } = c.req.valid('param');
      return c.json(await queueTrainingRun(c.var.deps.database, id, round, c.req.valid('json')), 201);
    },
  );
