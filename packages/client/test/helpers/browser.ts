/**
 * Real Chromium for the SDK tests (the system's /usr/bin/chromium through playwright-core; never a
 * downloaded browser), gated like every service-backed suite.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { serviceAvailable } from '../../../latchkey/test/helpers/services.js';

const EXECUTABLE = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/** True when Chromium exists and starts (see serviceAvailable for the CI rule). */
export function chromiumAvailable(): Promise<boolean> {
  return serviceAvailable('Chromium', async () => {
    if (!existsSync(EXECUTABLE)) throw new Error(`${EXECUTABLE} not found (apt-get install chromium)`);
    const browser = await launchChromium();
    await browser.close();
  });
}

/** Opens the test page and waits for the SDK to be ready. `init` runs before any page script. */
export async function openTab(context: BrowserContext, origin: string, query = ''): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/${query}`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}
