/**
 * A PostgreSQL database of the suite's own on the shared server, created and dropped around it
 * (the service migrates its schema into it like a fresh deployment would).
 */
import pg from 'pg';
import { PG_URL, pgExec, uniqueName } from '../helpers/postgres.js';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** The server's maintenance database, for CREATE/DROP DATABASE. */
function adminUrl(): string {
  const url = new URL(PG_URL);
  url.pathname = '/postgres';
  return url.toString();
}

export async function createTestDatabase(prefix = 'lk_service'): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await pgExec(`CREATE DATABASE ${pg.escapeIdentifier(name)}`, [], adminUrl());
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      await pgExec(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`, [], adminUrl());
    },
  };
}
