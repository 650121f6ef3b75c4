/**
 * Naming a refused TLS connection to PostgreSQL or Redis in words an operator can act on.
 *
 * Node reports a certificate that fails verification with an OpenSSL code (SELF_SIGNED_CERT_IN_CHAIN,
 * ERR_TLS_CERT_ALTNAME_INVALID, ...) and a message that does not say which connection or what to
 * check. The connection is refused either way (latchkey never retries without verification); this
 * only makes the refusal clear. Neither the certificate nor the connection string is echoed.
 */

/** Node/OpenSSL codes for a server certificate that does not verify. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'INVALID_CA',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A sentence for a TLS failure of `what` ("the PostgreSQL server"), or undefined when `err` is no
 * TLS failure. Covers the certificate codes above and a server that does not speak TLS at all.
 */
export function describeTlsFailure(err: unknown, what: string): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  const message = String((err as { message?: unknown }).message ?? '');
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return `TLS refused: ${what}'s certificate does not name the host connected to (${code}); connect by a name the certificate lists`;
  }
  if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) {
    return `TLS refused: ${what}'s certificate did not verify (${code}); check the CA given (sslrootcert, tls.ca or NODE_EXTRA_CA_CERTS)`;
  }
  // node-postgres, when TLS was asked for and the server answered that it has none.
  if (message.includes('The server does not support SSL connections')) {
    return `TLS refused: ${what} does not offer TLS, and the connection was configured to require it (never downgraded)`;
  }
  return undefined;
}
