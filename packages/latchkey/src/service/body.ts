/**
 * Request bodies: read (the size limit is enforced before, by Hono's bodyLimit), parsed as JSON and
 * validated against a zod schema. Every way a body can be wrong ends in a 400 `INVALID_REQUEST` that
 * names the field, before any engine call, so a bad body never reaches the store.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { ServiceError, invalidRequest } from './errors.js';

/** Deeper than this is refused before validation: no legitimate body nests so far, and a recursive validator must not overflow the stack. */
const MAX_JSON_DEPTH = 64;

/** True when `value` nests deeper than `limit`; iterative, so depth itself cannot overflow the stack. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * JSON.parse that refuses `__proto__` keys: validators and copies treat them inconsistently (zod
 * drops them silently, a spread would set a prototype), so the only safe answer is a clear 400.
 */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__') throw new ServiceError(400, 'INVALID_REQUEST', '__proto__: field name not allowed', { field: '__proto__' });
      return value;
    });
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    if (err instanceof RangeError) throw new ServiceError(400, 'INVALID_REQUEST', `body: nested more than ${MAX_JSON_DEPTH} levels deep`, { field: 'body' });
    throw new ServiceError(400, 'INVALID_REQUEST', 'body: not valid JSON', { field: 'body' });
  }
}

/** Reads, parses and validates a JSON body. An empty body counts as `{}` only when `emptyOk`. */
export async function readBody<S extends z.ZodType>(c: Context, schema: S, emptyOk = false): Promise<z.output<S>> {
  // The Content-Type is not checked: API-key auth makes it irrelevant to CSRF, and clients in other
  // languages often omit it (`curl -d`). The body itself must be JSON.
  const text = await c.req.text();
  if (text.trim() === '') {
    if (!emptyOk) throw new ServiceError(400, 'INVALID_REQUEST', 'body: a JSON object is required', { field: 'body' });
    return schema.parse({});
  }
  const json = parseJson(text);
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) throw new ServiceError(400, 'INVALID_REQUEST', `body: nested more than ${MAX_JSON_DEPTH} levels deep`, { field: 'body' });
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw invalidRequest(parsed.error);
  return parsed.data;
}

