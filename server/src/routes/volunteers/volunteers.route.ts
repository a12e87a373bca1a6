import { createRouter } from '../../http/app-env.ts';
import { requireVolunteer } from '../../http/volunteer-auth.ts';
import { registerVolunteer, volunteerSummary } from '../../volunteers/volunteer-tokens.ts';

/** First contact: an anonymous volunteer token, no sign-up. Then the volunteer's own figures. */
export const volunteersRoute = createRouter()
  .post('/', async (c) => c.json(await registerVolunteer(c.var.deps.database), 201))
  .get('/me', requireVolunteer, async (c) => c.json(await volunteerSummary(c.var.deps.database, c.var.volunteer.id)));
