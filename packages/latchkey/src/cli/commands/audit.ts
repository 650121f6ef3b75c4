/**
 * `latchkey audit`: the security audit log from the command line, filtered like `GET /v1/audit`
 * (same words: --user, --session, --type, --since, --until, --limit, --cursor), for the operator who
 * has a shell on the box during an incident. Reads the audit table beside the configured store.
 */
import { InvalidAuditQueryError } from '../../audit/query.js';
import { openAuditStore } from '../../service/backends.js';
import { adminContext, INIT_HELP, INIT_OPTION } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, printTable, UsageError } from '../io.js';

/**
 * User-Agents and reasons are attacker-controlled: a control character (an ANSI escape) printed raw
 * could rewrite the operator's terminal, so every C0/C1 control becomes `?` in the table.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const printable = (text: string | null): string => (text ?? '').replace(CONTROL, '?');

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Show the security audit log (sign-ins, revocations, thefts, key and API-key events)',
  usage: 'audit [--user ID] [--session ID] [--type TYPE[,TYPE]] [--since 24h|TIME] [--until 24h|TIME] [--limit N] [--cursor C] [--json]',
  details: [
    'Newest first. --since and --until take a span back from now (90s, 30m, 24h, 7d) or an ISO 8601 time with a zone.',
    'Types: session.created, session.refreshed, session.revoked, session.theft_detected, session.binding_mismatch,',
    'session.device_bound, keys.rotated, api_key.created, api_key.revoked, api_key.rotated, api_key.rejected.',
    'One page at a time (default 100, at most 1000): when more remain, the next page is `--cursor <nextCursor>`',
    '(in the JSON; in text, on stderr). Events reach the log about a second after they happen.',
    INIT_HELP,
  ].join('\n'),
  options: {
    user: { type: 'string' },
    session: { type: 'string' },
    type: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    ...INIT_OPTION,
  },
  async run(io, { values }) {
    const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
    // The mapping to the JSON shape is the service's: loaded only for this command.
    const { auditEventToJson, auditQueryFrom } = await import('../../service/audit.js');
    let query;
    try {
      query = auditQueryFrom(
        {
          user: str('user'),
          session: str('session'),
          type: str('type'),
          since: str('since'),
          until: str('until'),
          limit: str('limit'),
          cursor: str('cursor'),
        },
        Date.now(),
      );
    } catch (err) {
      if (err instanceof InvalidAuditQueryError) throw new UsageError(`--${err.field}: ${err.message}`);
      throw err;
    }
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    // Opening the session store first checks that this is a real store (see context.ts).
    await ctx.store().catch(async (err: unknown) => {
      await ctx.close();
      throw err;
    });
    const audit = await openAuditStore(ctx.config.store);
    try {
      await audit.store.migrate();
      let page;
      try {
        page = await audit.store.query(query);
      } catch (err) {
        // A cursor is only checked against the store's format when the query runs.
        if (err instanceof InvalidAuditQueryError) throw new UsageError(`--${err.field}: ${err.message}`);
        throw err;
      }
      const events = page.events.map(auditEventToJson);
      if (values.json) {
        printJson(io, ctx.json({ events, nextCursor: page.nextCursor }));
        return EXIT.ok;
      }
      printTable(
        io,
        ['TIME', 'TYPE', 'USER', 'SESSION', 'ACTOR', 'REASON', 'COUNT', 'DEVICE', 'IP'],
        events.map((e) => [
          e.at,
          e.type,
          printable(e.userId),
          printable(e.sessionId),
          e.actor,
          printable(e.reason),
          String(e.count),
          printable(e.device),
          printable(e.ip),
        ]),
      );
      if (page.nextCursor !== null) io.stderr(`latchkey: more events: --cursor ${page.nextCursor}\n`);
      return EXIT.ok;
    } finally {
      await audit.close();
      await ctx.close();
    }
  },
};
