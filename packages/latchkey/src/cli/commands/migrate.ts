/** `latchkey migrate`: creates or upgrades the store's schema (idempotent; `serve` does it too). */
import { adminContext } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson } from '../io.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Create or upgrade the store schema',
  usage: 'migrate [--json]',
  details: 'Creates the store when it does not exist. Output with --json: {"migrated": true, "applied": [versions applied by this run], "version": N, "store": {...}}.',
  async run(io, { values }) {
    // The one command that creates a store by design.
    const ctx = adminContext(io, { init: true, json: values.json === true });
    try {
      await ctx.store();
      const report = ctx.migration();
      if (values.json) printJson(io, ctx.json({ migrated: true, ...(report ? { applied: report.applied, version: report.version } : {}) }));
      else if (!report) io.stdout('schema up to date\n');
      else if (report.applied.length === 0) io.stdout(`schema up to date (version ${report.version})\n`);
      else io.stdout(`applied migration${report.applied.length === 1 ? '' : 's'} ${report.applied.join(', ')}; schema at version ${report.version}\n`);
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};
