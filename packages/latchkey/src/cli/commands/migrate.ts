/** `latchkey migrate`: creates or upgrades the store's schema (idempotent; `serve` does it too). */
import { adminContext } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson } from '../io.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Create or upgrade the store schema',
  usage: 'migrate [--json]',
  async run(io, { values }) {
    const ctx = adminContext(io.env);
    try {
      await ctx.store();
      if (values.json) printJson(io, { migrated: true, store: ctx.config.store.kind });
      else io.stdout(`schema up to date (${ctx.config.store.kind})\n`);
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};
