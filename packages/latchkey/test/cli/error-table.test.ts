/**
 * The CLI's exit codes come from the one error table (http/errors.ts) that also gives the adapters
 * and the service their HTTP status (issue 12): each code's kind decides the exit code, so a code
 * cannot mean "retry later" to the service (503) and "fix the setup" to the CLI, or the reverse. The
 * exit codes themselves are the documented, stable ones (docs/service.md): 1 failed, 2 usage or
 * configuration, 69 store unavailable.
 */
import { describe, expect, it } from 'vitest';
import { LatchkeyError, MissingDependencyError, SecretMismatchError, StoreUnavailableError } from 'latchkey';
import { classifyError } from '../../src/cli/run.js';
import { ERROR_TABLE, HttpError, mapError, type ErrorKind } from '../../src/http/errors.js';
import { UsageError } from '../../src/cli/io.js';
import { ConfigError } from '../../src/service/config.js';

const EXPECTED_EXIT: Record<ErrorKind, number> = { refused: 1, internal: 1, configuration: 2, unavailable: 69 };

describe('CLI exit codes from the error table', () => {
  it('every code in the table exits as its kind says, with the code itself', () => {
    const codes = Object.keys(ERROR_TABLE) as Array<keyof typeof ERROR_TABLE>;
    expect(codes.length).toBeGreaterThan(15);
    for (const code of codes) {
      const result = classifyError(new LatchkeyError<string>(code, `a ${code} refusal`));
      expect(result.exit, code).toBe(EXPECTED_EXIT[ERROR_TABLE[code].kind]);
      expect(result.code, code).toBe(code);
    }
  });

  it('the documented exit codes of the errors a CLI command meets stay what they were', () => {
    expect(
      classifyError(new StoreUnavailableError('down', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) })),
    ).toEqual({
      exit: 69,
      code: 'STORE_UNAVAILABLE',
      message: 'the store is unavailable (ECONNREFUSED); check LATCHKEY_STORE and that it is running',
    });
    expect(classifyError(new StoreUnavailableError('TLS refused: the server certificate is not trusted'))).toMatchObject({
      exit: 69,
      message: expect.stringMatching(/^TLS refused: .*; check LATCHKEY_STORE$/),
    });
    // A driver's error that escaped a store is the store being unavailable too.
    expect(classifyError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toEqual({
      exit: 69,
      code: 'STORE_UNAVAILABLE',
      message: 'the store is unavailable (ECONNREFUSED); check LATCHKEY_STORE and that it is running',
    });
    expect(classifyError(new MissingDependencyError('pg', 'latchkey/stores/postgres', 'npm install pg'))).toMatchObject({
      exit: 2,
      code: 'MISSING_DEPENDENCY',
    });
    expect(classifyError(new SecretMismatchError('kid-1', 'signing key kid-1 cannot be decrypted'))).toMatchObject({
      exit: 2,
      code: 'SECRET_MISMATCH',
    });
    expect(classifyError(new LatchkeyError('HOOK_FAILED', 'hook threw'))).toMatchObject({ exit: 1, code: 'HOOK_FAILED' });
    expect(classifyError(new LatchkeyError('NOT_FOUND', 'no active session with that id'))).toMatchObject({ exit: 1, code: 'NOT_FOUND' });
    expect(classifyError(new HttpError(400, 'INVALID_REQUEST', 'bad'))).toMatchObject({ exit: 1, code: 'INVALID_REQUEST' });
    // The CLI's own refusals, outside the table.
    expect(classifyError(new UsageError('unknown command'))).toMatchObject({ exit: 2, code: 'USAGE' });
    expect(classifyError(new ConfigError('LATCHKEY_STORE', 'not a URL'))).toMatchObject({ exit: 2, code: 'CONFIG' });
    expect(classifyError(new TypeError('bad id'))).toMatchObject({ exit: 1, code: 'INVALID_ARGUMENT' });
    expect(classifyError(new Error('boom'))).toMatchObject({ exit: 1, code: 'FAILED' });
    expect(classifyError(new LatchkeyError<string>('SOMETHING_NEW', 'x'))).toMatchObject({ exit: 1, code: 'SOMETHING_NEW' });
  });

  it('the HTTP answers come from the same rows: unavailable is 503, a code outside the table a generic 500', () => {
    for (const [code, row] of Object.entries(ERROR_TABLE)) {
      const mapped = mapError(new LatchkeyError<string>(code, 'x'), undefined);
      if (row.status === 500) expect(mapped.body.error.code, code).toBe('INTERNAL_ERROR');
      else expect(mapped.status, code).toBe(row.status);
      if (row.kind === 'unavailable') expect(mapped.status, code).toBe(503);
    }
    expect(mapError(new LatchkeyError<string>('SOMETHING_NEW', 'x'), undefined)).toMatchObject({ status: 500, expected: false });
  });
});
