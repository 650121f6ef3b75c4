/** `latchkey cleanup`: deletes expired and long-revoked sessions with their refresh-token chains. */
import { adminContext, INIT_HELP, INIT_OPTION } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, withProgress } from '../io.js';

export const cleanupCommand: Command = {
  name: 'cleanup',
  summary: 'Delete expired sessions and their refresh-token chains',
  usage: 'cleanup [--json]',
  details: 'Revoked sessions are kept until every access token issued for them has expired, so instances still load the revocation.\n' + INIT_HELP,
  options: INIT_OPTION,
  async run(io, { values }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const engine = await ctx.engine();
      const result = await withProgress(io, 'deleting expired sessions', () => engine.cleanup());
      if (values.json) printJson(io, ctx.json(result));
      else io.stdout(`deleted ${result.sessions} session(s) and ${result.refreshTokens} refresh token(s)\n`);
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};
