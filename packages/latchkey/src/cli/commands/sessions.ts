/** `latchkey sessions list|revoke|revoke-user`: look at and end sessions as an administrator. */
import { importServiceModule } from '../../service/peers.js';
import { adminContext, INIT_HELP, INIT_OPTION } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, printTable, UsageError, withProgress } from '../io.js';

export const sessionsListCommand: Command = {
  name: 'sessions list',
  summary: "List a user's active sessions",
  usage: 'sessions list --user ID [--json]',
  details: INIT_HELP,
  options: { user: { type: 'string' }, ...INIT_OPTION },
  async run(io, { values }) {
    if (typeof values.user !== 'string' || values.user === '') throw new UsageError('--user ID is required');
    // The JSON shape is the service's (service/app.ts, which loads Hono and zod): loaded only for this command.
    const { sessionToJson } = await importServiceModule(() => import('../../service/app.js'), 'latchkey sessions list');
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const sessions = (await (await ctx.engine()).listSessions(values.user)).map(sessionToJson);
      if (values.json) printJson(io, ctx.json({ sessions }));
      else printTable(io, ['ID', 'CREATED', 'LAST ACTIVE', 'EXPIRES', 'DEVICE'], sessions.map((s) => [s.id, s.createdAt, s.lastActiveAt, s.expiresAt, s.device.userAgent ?? '']));
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};

export const sessionsRevokeCommand: Command = {
  name: 'sessions revoke',
  summary: 'Revoke one session at once',
  usage: 'sessions revoke SESSION_ID [--json]',
  details: `Exit 1 when there was no active session with that id.\n${INIT_HELP}`,
  options: INIT_OPTION,
  positionals: { min: 1, max: 1, names: 'SESSION_ID' },
  async run(io, { values, positionals }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const revoked = await (await ctx.engine()).revokeSession(positionals[0]!, 'admin');
      if (values.json) printJson(io, ctx.json({ revoked }));
      else io.stdout(revoked ? 'revoked\n' : 'no active session with that id\n');
      return revoked ? EXIT.ok : EXIT.failed;
    } finally {
      await ctx.close();
    }
  },
};

export const sessionsRevokeUserCommand: Command = {
  name: 'sessions revoke-user',
  summary: 'Revoke every session of a user',
  usage: 'sessions revoke-user USER_ID [--json]',
  details: INIT_HELP,
  options: INIT_OPTION,
  positionals: { min: 1, max: 1, names: 'USER_ID' },
  async run(io, { values, positionals }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const engine = await ctx.engine();
      const revoked = await withProgress(io, 'revoking sessions', () => engine.revokeUserSessions(positionals[0]!, { reason: 'admin' }));
      if (values.json) printJson(io, ctx.json({ revoked }));
      else io.stdout(`revoked ${revoked} session(s)\n`);
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};
