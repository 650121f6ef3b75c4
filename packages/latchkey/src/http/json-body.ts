/** Reads a JSON object body for the auth routes. Malformed or oversized input is a typed 400/413, never a 500. */
import type { ResolvedHttpSettings } from './options.js';
import { invalidRequest } from './errors.js';
import { decodeUtf8, type HttpRequest } from './request.js';

export async function readJsonBody(settings: ResolvedHttpSettings, request: HttpRequest): Promise<Record<string, unknown>> {
  const raw = await request.body(settings.maxBodyBytes);
  let value: unknown = raw;
  if (raw instanceof Uint8Array) value = decodeUtf8(raw);
  if (typeof value === 'string') {
    if (value.trim() === '') throw invalidRequest('request body must be a JSON object');
    try {
      value = JSON.parse(value);
    } catch {
      throw invalidRequest('request body is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest('request body must be a JSON object');
  return value as Record<string, unknown>;
}
