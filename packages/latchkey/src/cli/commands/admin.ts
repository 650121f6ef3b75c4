/**
 * `latchkey admin login`: prints a one-time link that signs an operator in to the admin console
 * (docs/admin.md). Run where the service runs: the link is a ticket in the service's store, marked with
 * a key derived from its master secret, so only someone who can read both can make one.
 */
import { secretFromFile } from '../../keys/secret.js';
import { adminContext, INIT_HELP, INIT_OPTION } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, UsageError } from '../io.js';

export const adminLoginCommand: Command = {
  name: 'admin login',
  summary: 'Print a one-time sign-in link for the admin console',
  usage: 'admin login --operator NAME [--url https://auth.example.com/admin] [--ttl 600] [--json]',
  details:
    'The link signs NAME in to the console once, on any instance sharing the store, within --ttl seconds\n' +
    '(default 600, at most 3600). It is a credential: give it to that operator only. Every sign-in and every\n' +
    'action in the console is written to the audit log with actor "admin" and the operator\'s name.\n' +
    '--operator NAME  who is signing in (1-64 letters, digits, . _ @ -); recorded in the audit log\n' +
    '--url URL        where the console is served; default LATCHKEY_ISSUER (or http://HOST:PORT) + /admin\n' +
    INIT_HELP,
  options: { operator: { type: 'string' }, url: { type: 'string' }, ttl: { type: 'string' }, ...INIT_OPTION },
  async run(io, { values }) {
    if (typeof values.operator !== 'string' || values.operator === '') throw new UsageError('--operator NAME is required');
    let ttlMs: number | undefined;
    if (values.ttl !== undefined) {
      if (typeof values.ttl !== 'string' || !/^\d{1,4}$/.test(values.ttl) || Number(values.ttl) < 10 || Number(values.ttl) > 3600)
        throw new UsageError('--ttl must be a whole number of seconds from 10 to 3600');
      ttlMs = Number(values.ttl) * 1000;
    }
    // The login link's code lives with the console (service/admin), which needs no service package for this.
    const { createLoginLink, validateOperator } = await import('../../service/admin/auth.js');
    try {
      validateOperator(values.operator);
    } catch (err) {
      throw new UsageError(`--operator: ${(err as Error).message}`);
    }
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const engine = await ctx.engine();
      const consoleUrl =
        typeof values.url === 'string'
          ? values.url
          : `${(ctx.config.issuer ?? `http://${ctx.config.host}:${ctx.config.port}`).replace(/\/$/, '')}/admin`;
      if (!URL.canParse(consoleUrl) || !/^https?:$/.test(new URL(consoleUrl).protocol))
        throw new UsageError('--url must be an http(s) URL');
      const link = await createLoginLink({
        engine,
        secret: ctx.config.secret ?? secretFromFile(ctx.config.secretFile),
        operator: values.operator,
        consoleUrl,
        ...(ttlMs !== undefined ? { ttlMs } : {}),
      });
      if (values.json) printJson(io, ctx.json({ url: link.url, operator: link.operator, expiresAt: link.expiresAt.toISOString() }));
      else {
        io.stderr(
          `latchkey: one-time sign-in link for ${link.operator}, valid until ${link.expiresAt.toISOString()}; it is a credential\n`,
        );
        io.stdout(`${link.url}\n`);
      }
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};
