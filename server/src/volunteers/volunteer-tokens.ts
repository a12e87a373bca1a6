import { createHash, randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { volunteers } from '../db/schema.ts';

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** An anonymous volunteer: the token is shown once; only its hash is stored. */
export async function registerVolunteer(database: Database): Promise<{ volunteerId: string; token: string }> {
  const token = randomBytes(24).toString('base64url');
  const [row] = await database.db
    .insert(volunteers)
    .values({ tokenHash: hashToken(token), lastSeenAt: sql`now()` })
    .returning({ id: volunteers.id });
  if (!row) throw new Error('volunteer insert returned no row');
  return { volunteerId: row.id, token };
}

/** Token hashes already looked up by this process; volunteers are never deleted, so an entry stays true. */
const known = new WeakMap<Database, Map<string, string>>();
const KNOWN_LIMIT = 100_000;

export async function volunteerForToken(database: Database, token: string): Promise<{ id: string } | null> {
  const hash = hashToken(token);
  let cache = known.get(database);
  if (!cache) {
    cache = new Map();
    known.set(database, cache);
  }
  const id = cache.get(hash);
  if (id) return { id };
  // The stored value is a hash of 192 random bits, so an equality lookup leaks nothing useful by timing.
  const [row] = await database.db
    .select({ id: volunteers.id })
    .from(volunteers)
    .where(eq(volunteers.tokenHash, hash))
    .limit(1);
  if (!row) return null;
  if (cache.size >= KNOWN_LIMIT) cache.clear();
  cache.set(hash, row.id);
  return row;
}

/** What a volunteer's own tab shows: credit (samples processed), reputation and accepted results. */
export async function volunteerSummary(database: Database, id: string) {
  const [row] = await database.db
    .select({
      credit: volunteers.credit,
      reputation: volunteers.reputation,
      results: sql<number>`(select count(*) from results r where r.volunteer_id = ${id})`,
    })
    .from(volunteers)
    .where(eq(volunteers.id, id))
    .limit(1);
  return {
    volunteerId: id,
    credit: row?.credit ?? 0,
    reputation: row?.reputation ?? 1,
    results: Number(row?.results ?? 0),
  };
}
