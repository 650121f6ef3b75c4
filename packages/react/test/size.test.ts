/** The size budget of @latchkey/react (scripts/size.mjs): what it adds on top of React and the SDK. */
import { describe, expect, it } from 'vitest';
import { BUDGET_BYTES, measure } from '../scripts/size.mjs';

describe('@latchkey/react size budget', () => {
  it(`adds under ${BUDGET_BYTES} B min+gzip on top of React and the SDK`, async () => {
    const { gzipped, minified } = await measure();
    expect(minified).toBeGreaterThan(500); // it did bundle the bindings
    expect(gzipped).toBeLessThan(BUDGET_BYTES);
  });
});
