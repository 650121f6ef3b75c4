/** `latchkey keys list|rotate`: the signing keys (public facts only; private halves never leave the store encrypted). */
import { adminContext, INIT_HELP, INIT_OPTION } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, printTable } from '../io.js';

export const keysListCommand: Command = {
  name: 'keys list',
  summary: 'List signing keys and their state',
  usage: 'keys list [--json]',
  details: `State: "signing" (in use), "published" (in the JWKS, signs later), "retired" (verifies tokens it signed until they expire).\n${INIT_HELP}`,
  options: INIT_OPTION,
  async run(io, { values }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const records = await (await ctx.store()).listSigningKeys();
      const now = Date.now();
      const signing = records.filter((k) => k.activatesAt <= now).sort((a, b) => b.activatesAt - a.activatesAt)[0];
      const keys = records
        .sort((a, b) => b.generation - a.generation)
        .map((k) => ({
          kid: k.kid,
          alg: k.alg,
          generation: k.generation,
          state: k === signing ? 'signing' : k.activatesAt > now ? 'published' : 'retired',
          createdAt: new Date(k.createdAt).toISOString(),
          activatesAt: new Date(k.activatesAt).toISOString(),
        }));
      if (values.json) printJson(io, ctx.json({ keys }));
      else printTable(io, ['KID', 'ALG', 'GEN', 'STATE', 'SIGNS FROM'], keys.map((k) => [k.kid, k.alg, String(k.generation), k.state, k.activatesAt]));
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};

export const keysRotateCommand: Command = {
  name: 'keys rotate',
  summary: 'Rotate the signing key now (after a suspected leak)',
  usage: 'keys rotate [--drop-previous] [--json]',
  details:
    'Tokens signed by earlier keys keep verifying until they expire. Running services start signing with the new key\n' +
    'when they next load keys (at once with LATCHKEY_REDIS_URL, else within a minute).\n' +
    '--drop-previous  a key has leaked: remove every earlier key at once. Tokens they signed (forged ones too) stop\n' +
    '                 verifying as each service reloads its keys; clients refresh, refresh tokens are unaffected.\n' +
    INIT_HELP,
  options: { 'drop-previous': { type: 'boolean' }, ...INIT_OPTION },
  async run(io, { values }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const { kid } = await (await ctx.engine()).rotateKeys({ dropPrevious: values['drop-previous'] === true });
      if (values.json) printJson(io, ctx.json({ kid }));
      else io.stdout(`new signing key ${kid}\n`);
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};
