/**
 * Gate for suites that need a real service (PostgreSQL, Redis, Chromium, Python with PyJWT).
 *
 * With LATCHKEY_REQUIRE_SERVICES=1 (CI), a missing service fails the suite. Without it (a laptop),
 * the suite is skipped with a loud notice, never silently.
 */
export const servicesRequired = process.env.LATCHKEY_REQUIRE_SERVICES === '1';

/**
 * Returns true when the service answers. When it does not: throws if services are required,
 * otherwise prints a notice and returns false (use with `describe.skipIf(!available)`).
 */
export async function serviceAvailable(name: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (servicesRequired) {
      throw new Error(`${name} is required (LATCHKEY_REQUIRE_SERVICES=1) but unavailable: ${why}`);
    }
    console.warn(`\n${'!'.repeat(72)}\n!! SKIPPING ${name} suite: ${why}\n!! Set LATCHKEY_REQUIRE_SERVICES=1 to make this a failure.\n${'!'.repeat(72)}\n`);
    return false;
  }
}
