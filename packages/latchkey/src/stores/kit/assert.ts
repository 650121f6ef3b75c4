/**
 * The comparisons of the store conformance kit, on `node:assert/strict` alone so that the kit runs
 * under any test runner (vitest, node:test, mocha, jest): no runner's `expect` is imported.
 *
 * Records are compared as data, the way a store hands them back: a property whose value is
 * `undefined` counts as absent (a driver may or may not set an optional field it has no value for),
 * and prototypes are ignored (a driver may build rows on a null prototype).
 */
import * as assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';

/** A copy of `value` as plain data: plain objects and arrays, `undefined` properties dropped. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = plain(v);
  return out;
}

/** Deep equality of two records as data. */
export function isEqual(actual: unknown, expected: unknown): boolean {
  return isDeepStrictEqual(plain(actual), plain(expected));
}

/** Asserts deep equality as data; the failure shows both sides. */
export function equal(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(plain(actual), plain(expected), message);
}

/** Asserts that `actual` has every property of `expected` (recursively, objects only) with equal values. */
export function matches(actual: unknown, expected: Record<string, unknown>, path = 'value'): void {
  assert.ok(actual !== null && typeof actual === 'object', `${path} is not an object: ${String(actual)}`);
  for (const [key, want] of Object.entries(expected)) {
    const got = (actual as Record<string, unknown>)[key];
    if (want !== null && typeof want === 'object' && !Array.isArray(want)) matches(got, want as Record<string, unknown>, `${path}.${key}`);
    else equal(got, want, `${path}.${key}`);
  }
}
