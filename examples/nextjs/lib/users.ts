/**
 * The example's users: email and scrypt password hash in the same SQLite file as latchkey's tables.
 * Yours will differ (an ORM, an identity provider); latchkey only needs the user id once the
 * password checked out.
 */
import { randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type BetterSqlite3 from 'better-sqlite3';
import { config } from './config';

const hash = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;
const KEY = Symbol.for('latchkey.examples.nextjs.users');
type Holder = { [KEY]?: Promise<BetterSqlite3.Database> };

function db(): Promise<BetterSqlite3.Database> {
  const holder = globalThis as Holder;
  return (holder[KEY] ??= import('better-sqlite3').then(({ default: Database }) => {
    const database = new Database(config.database());
    database.exec(
      'CREATE TABLE IF NOT EXISTS example_users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL)',
    );
    return database;
  }));
}

/** The new user's id, or null when the email is taken. */
export async function createUser(email: string, password: string): Promise<string | null> {
  const salt = randomBytes(16);
  const id = randomUUID();
  const digest = await hash(password, salt, 32);
  const result = (await db())
    .prepare('INSERT OR IGNORE INTO example_users (id, email, salt, hash) VALUES (?, ?, ?, ?)')
    .run(id, email, salt, digest);
  return result.changes === 1 ? id : null;
}

/** The user's id when the password matches, else null (the same work either way, against timing probes). */
export async function checkPassword(email: string, password: string): Promise<string | null> {
  const row = (await db()).prepare('SELECT id, salt, hash FROM example_users WHERE email = ?').get(email) as
    { id: string; salt: Buffer; hash: Buffer } | undefined;
  const digest = await hash(password, row?.salt ?? Buffer.alloc(16), 32);
  return row && timingSafeEqual(digest, row.hash) ? row.id : null;
}
