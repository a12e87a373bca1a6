import type { AppType } from '@coopt/server';
import type { ErrorBody } from '@coopt/shared';
import { hc } from 'hono/client';

/** The typed client: every call is checked against the server's routes at compile time. */
export const api = hc<AppType>('/');

export function adminApi(token: string) {
  return hc<AppType>('/', { headers: { authorization: `Bearer ${token}` } });
}

/** Unwraps a response, turning the API's `{ error }` body into a thrown message. */
export async function unwrap<T>(res: { ok: boolean; status: number; json(): Promise<T> }): Promise<T> {
  if (res.ok) return res.json();
  const body = (await res.json().catch(() => null)) as ErrorBody | null;
  throw new Error(body?.error.message ?? `request failed with status ${res.status}`);
}
