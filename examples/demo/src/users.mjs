// The demo's user accounts: email, name and an scrypt password hash in their own SQLite file.
// latchkey manages sessions, not users; this is the part every app writes for itself.
import { randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';

const scryptAsync = promisify(scrypt);
// OWASP's scrypt guidance: N=2^17 (128 MiB) r=8 p=1; the demo takes 2^16 to stay quick on small machines.
const PARAMS = { N: 2 ** 16, r: 8, p: 1, maxmem: 160 * 1024 * 1024 };
const KEY_BYTES = 32;

async function hashPassword(password, salt = randomBytes(16)) {
  const key = await scryptAsync(password.normalize('NFKC'), salt, KEY_BYTES, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

async function verifyPassword(password, stored) {
  const [, , , , saltText, keyText] = stored.split('$');
  const expected = Buffer.from(keyText, 'base64url');
  const actual = await scryptAsync(password.normalize('NFKC'), Buffer.from(saltText, 'base64url'), KEY_BYTES, PARAMS);
  return timingSafeEqual(actual, expected);
}

export class UserStore {
  #db;
  // Hashed once so that a sign-in for an unknown email costs the same as for a known one.
  #dummyHash = hashPassword('not-a-real-password');

  constructor(path) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS demo_users (
      id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    // Added for the "verify your email" claim (claims.mjs); a data directory from before gets the column.
    const columns = this.#db
      .prepare('PRAGMA table_info(demo_users)')
      .all()
      .map((c) => c.name);
    if (!columns.includes('email_verified')) this.#db.exec('ALTER TABLE demo_users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0');
  }

  /** Whether the user confirmed their email (what EmailVerifiedClaim fetches at sign-in). */
  isEmailVerified(id) {
    return this.#db.prepare('SELECT email_verified FROM demo_users WHERE id = ?').get(id)?.email_verified === 1;
  }

  markEmailVerified(id) {
    this.#db.prepare('UPDATE demo_users SET email_verified = 1 WHERE id = ?').run(id);
  }

  /** Returns the new user, or null when the email is taken. */
  async create({ email, name, password }) {
    const user = { id: randomUUID(), email: email.toLowerCase(), name };
    const hash = await hashPassword(password);
    const result = this.#db
      .prepare('INSERT INTO demo_users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(user.id, user.email, user.name, hash, Date.now());
    return result.changes === 1 ? user : null;
  }

  /** Returns the user when the password matches, else null (same cost either way). */
  async authenticate(email, password) {
    const row = this.#db.prepare('SELECT * FROM demo_users WHERE email = ?').get(String(email).toLowerCase());
    const ok = await verifyPassword(password, row?.password_hash ?? (await this.#dummyHash));
    return row && ok ? { id: row.id, email: row.email, name: row.name } : null;
  }

  /** The user with this id, or null. */
  byId(id) {
    const row = this.#db.prepare('SELECT id, email, name FROM demo_users WHERE id = ?').get(String(id));
    return row ? { id: row.id, email: row.email, name: row.name } : null;
  }

  close() {
    this.#db.close();
  }
}
