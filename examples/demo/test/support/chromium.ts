/**
 * Debian's Chromium as every demo browser test launches it: headless, with the flags that keep it off
 * the network (this machine's closed network refuses Google's hosts), never a downloaded browser.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serviceAvailable } from '../../../../packages/latchkey/test/helpers/services.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/**
 * Whether Chromium starts here. Without it the suite named by `label` is skipped with a loud notice,
 * or fails when LATCHKEY_REQUIRE_SERVICES=1 (serviceAvailable).
 */
export function chromiumAvailable(label: string): Promise<boolean> {
  return serviceAvailable(label, async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
    await (await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })).close();
  });
}
