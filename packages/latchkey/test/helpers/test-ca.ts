/**
 * A throwaway certificate authority made with the openssl CLI, for TLS tests: a CA, a server
 * certificate it signed for 127.0.0.1 and localhost only, and a second, unrelated CA (the "wrong
 * CA" a misconfigured client would trust). EC P-256 keys: quick to make. Files live in a temp dir,
 * readable by the postgres user (PostgreSQL reads its key as that user), removed on exit.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM paths. */
  caFile: string;
  wrongCaFile: string;
  certFile: string;
  keyFile: string;
  /** PEM texts. */
  ca: string;
  wrongCa: string;
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync('/tmp/latchkey-ca-');
  chmodSync(dir, 0o755);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=latchkey test CA'], dir);
  openssl(['req', '-x509', ...ec, '-keyout', 'wrong-ca.key', '-out', 'wrong-ca.crt', '-days', '2', '-subj', '/CN=latchkey wrong CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'], dir);
  for (const f of ['ca.crt', 'wrong-ca.crt', 'server.crt', 'server.key']) chmodSync(join(dir, f), 0o644);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    wrongCaFile: join(dir, 'wrong-ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    ca: read('ca.crt'),
    wrongCa: read('wrong-ca.crt'),
    cert: read('server.crt'),
    key: read('server.key'),
  };
}
