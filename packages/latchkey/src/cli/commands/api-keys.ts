/**
 * `latchkey service-keys create|list|revoke`: keys for the service's `/v1/` routes (service
 * contract v1.1; `api-keys` is the deprecated alias, see {@link deprecatedAlias}). Only a hash is
 * stored; the key is printed once, at creation, and cannot be shown again.
 */
import { createServiceKey } from '../../service/api-keys.js';
import { openBus } from '../../service/backends.js';
import { adminContext, INIT_HELP, INIT_OPTION, type AdminContext } from '../context.js';
import type { Command } from '../command.js';
import { EXIT, printJson, printTable, UsageError } from '../io.js';

/** Any printable text, 1-100 characters: it is a label for people, shown in `api-keys list`. */
const NAME = /^[^\p{Cc}]{1,100}$/u;

export const serviceKeysCreateCommand: Command = {
  name: 'service-keys create',
  summary: 'Create a service key for the /v1/ routes (printed once)',
  usage: 'service-keys create --name NAME [--json]',
  // The JSON output is fixed by the service contract ({"id","key"}): the store is named on stderr.
  details: 'Output with --json: {"id": "...", "key": "..."}. Store the key in your secret manager; only its hash is kept. Creates the store and its schema when they do not exist yet (like migrate), and names the store on stderr.',
  options: { name: { type: 'string' }, ...INIT_OPTION },
  async run(io, { values }) {
    const name = values.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new UsageError('--name NAME is required: 1-100 printable characters');
    }
    // Not `json: true`: the contract fixes the JSON to {"id","key"}, so the store is named on stderr
    // (as a JSON line under --json).
    // Creating a key is itself an instruction to create: ../shared/service-api.md makes
    // `api-keys create` the first step on a fresh checkout (before `serve`), so, like `migrate`, it
    // may create the store and its schema. The store it opened is named on stderr, so a run in the
    // wrong folder is visible at once; list and revoke still refuse to create anything.
    const ctx = adminContext(io, { init: true, jsonStoreNotice: values.json === true });
    try {
      const { id, key } = await createServiceKey(await ctx.store(), name);
      if (values.json) printJson(io, { id, key });
      else io.stdout(`id:  ${id}\nkey: ${key}\n\nThe key is shown once; only its hash is stored.\n`);
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};

export const serviceKeysListCommand: Command = {
  name: 'service-keys list',
  summary: 'List service keys (never the keys themselves)',
  usage: 'service-keys list [--json]',
  details: INIT_HELP,
  options: INIT_OPTION,
  async run(io, { values }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const keys = (await (await ctx.store()).listServiceKeys()).map((k) => ({
        id: k.id,
        name: k.name,
        createdAt: new Date(k.createdAt).toISOString(),
        revokedAt: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
      }));
      if (values.json) printJson(io, ctx.json({ apiKeys: keys }));
      else printTable(io, ['ID', 'NAME', 'CREATED', 'REVOKED'], keys.map((k) => [k.id, k.name, k.createdAt, k.revokedAt ?? '']));
      return EXIT.ok;
    } finally {
      await ctx.close();
    }
  },
};

/** Publishes the revocation on the bus, if one is configured. Best effort: the store is already written. */
async function announceServiceKeyRevoked(config: AdminContext['config'], id: string): Promise<void> {
  const bus = await openBus(config.redisUrl, config.redisChannel);
  if (!bus) return;
  try {
    // A fresh bus publishes only once connected (it never queues): joining first waits for Redis
    // (bounded by the bus's own timeout), with the publishing connection opened alongside.
    await bus.subscribe({ message: () => {}, connected: () => {} });
    await bus.publish({ type: 'service-keys-changed', keyIds: [id] });
  } finally {
    await bus.close().catch(() => {});
  }
}

export const serviceKeysRevokeCommand: Command = {
  name: 'service-keys revoke',
  summary: 'Revoke a service key by id',
  usage: 'service-keys revoke KEY_ID [--json]',
  details: `Instances on the revocation bus (LATCHKEY_REDIS_URL) refuse the key on receipt; the others within 1 s (their service-key cache). Exit 1 when there is no active key with that id.\n${INIT_HELP}`,
  options: INIT_OPTION,
  positionals: { min: 1, max: 1, names: 'KEY_ID' },
  async run(io, { values, positionals }) {
    const ctx = adminContext(io, { init: values.init === true, json: values.json === true });
    try {
      const id = positionals[0]!;
      const revoked = await (await ctx.store()).revokeServiceKey(id, Date.now());
      // Running instances cache a key they found for up to 1 s; the bus tells them at once.
      if (revoked) await announceServiceKeyRevoked(ctx.config, id);
      if (values.json) printJson(io, ctx.json({ revoked }));
      else io.stdout(revoked ? 'revoked\n' : 'no active service key with that id\n');
      return revoked ? EXIT.ok : EXIT.failed;
    } finally {
      await ctx.close();
    }
  },
};

/**
 * The pre-v1.1 name of a service-key command: the same command, same stdout (scripts parsing it keep
 * working), plus a deprecation notice on stderr (a JSON `warning` line under --json).
 */
function deprecatedAlias(command: Command): Command {
  const name = command.name.replace(/^service-keys /, 'api-keys ');
  return {
    ...command,
    name,
    summary: `Deprecated alias of \`${command.name}\``,
    usage: command.usage.replace(/^service-keys /, 'api-keys '),
    async run(io, args) {
      const message = `\`${name}\` is deprecated; use \`${command.name}\` (service keys, contract v1.1). "API keys" are now the keys an app issues to its users.`;
      // With --json every stderr line is JSON, so a script reading it line by line never meets prose.
      io.stderr(args.values.json === true ? `${JSON.stringify({ warning: { code: 'DEPRECATED_COMMAND', message } })}\n` : `latchkey: ${message}\n`);
      return command.run(io, args);
    },
  };
}

export const apiKeysCreateCommand = deprecatedAlias(serviceKeysCreateCommand);
export const apiKeysListCommand = deprecatedAlias(serviceKeysListCommand);
export const apiKeysRevokeCommand = deprecatedAlias(serviceKeysRevokeCommand);
