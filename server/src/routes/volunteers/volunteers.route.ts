import { createRouter } from '../../http/app-env.ts';
import { registerVolunteer } from '../../volunteers/volunteer-tokens.ts';

/** First contact: an anonymous volunteer token, no sign-up. */
export const volunteersRoute = createRouter().post('/', async (c) =>
  c.json(await registerVolunteer(c.var.deps.database), 201),
);
