/**
 * `latchkey user-keys list|revoke`: the API keys an app issued to its users, for operators answering
 * "revoke this leaked key now". Keys are created by the app (engine or service), never here; nothing
 * printed is ever a key or a hash.
 */
import { importServiceModule } from '../../service/peers.js';
import { adminContext, INIT_HELP, INIT_OPTION } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, printTable, UsageError } from '../io.js';

export const userKeysListCommand: Command = {
  name: 'user-keys list',
  summary: "List an owner's usable API keys (never the keys themselves)",
  usage: 'user-keys list --owner ID [--json]',
  details: `Revoked and expired keys are left out. Output with --json: {"apiKeys": [ApiKey, ...]}.\n${INIT_HELP}`,
  options: { owner: { type: 'string' }, ...INIT_OPTION },
  async run(io, { values }) {
    if (typeof values.owner !== 'string' || values.owner === '') throw new UsageError('--owner ID is required');
    // Loaded on demand: the service's JSON shape lives beside Hono and zod, which the other admin
    // commands (and `--help`) must not need.
    const { apiKeyToJson } = await importServiceModule(() => import('../../service/app.js'), 'latchkey user-keys list');
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const keys = (await (await ctx.engine()).apiKeys.list(values.owner)).map(apiKeyToJson);
      if (values.json) printJson(io, ctx.json({ apiKeys: keys }));
      else printTable(io, ['ID', 'PREFIX', 'NAME', 'SCOPES', 'CREATED', 'EXPIRES', 'LAST USED'], keys.map((k) => [k.id, k.prefix, k.name, k.scopes.join(' '), k.createdAt, k.expiresAt ?? '', k.lastUsedAt ?? '']));
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};

export const userKeysRevokeCommand: Command = {
  name: 'user-keys revoke',
  summary: 'Revoke a user API key at once, by id',
  usage: 'user-keys revoke KEY_ID [--json]',
  details: `The id is the key's public id (in \`user-keys list\`, and the 16 characters after \`lk_\` in the key itself). Exit 1 when there was no unrevoked key with that id.\n${INIT_HELP}`,
  options: INIT_OPTION,
  positionals: { min: 1, max: 1, names: 'KEY_ID' },
  async run(io, { values, positionals }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const revoked = await (await ctx.engine()).apiKeys.revoke(positionals[0]!);
      if (values.json) printJson(io, ctx.json({ revoked }));
      else io.stdout(revoked ? 'revoked\n' : 'no unrevoked API key with that id\n');
      return revoked ? EXIT.ok : EXIT.failed;
    } finally {
      await ctx.close();
    }
  },
};
