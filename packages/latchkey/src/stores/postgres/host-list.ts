/**
 * Reading a (possibly multi-host) `postgres://` URL, without loading the driver: the service's
 * configuration check uses it too. What the hosts are for: see hosts.ts.
 */

export interface HostPort {
  host: string;
  port: number;
}

export interface HostList {
  hosts: HostPort[];
  readWrite: boolean;
  /** One single-host connection string per host, everything else (user, database, sslmode…) unchanged. */
  urls: string[];
}

const SCHEME = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/s;

/**
 * Splits a (possibly) multi-host `postgres://` URL. Throws TypeError on a malformed host list or
 * an unsupported `target_session_attrs`; never echoes the string (it may hold a password).
 */
export function parseHostList(connectionString: string): HostList {
  const m = SCHEME.exec(connectionString);
  if (!m) throw new TypeError('postgres connection string must start with postgres:// or postgresql://');
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPart = authority.slice(at + 1);
  const hosts: HostPort[] = hostPart.split(',').map((item) => {
    const hp = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(item);
    if (!hp) throw new TypeError('postgres connection string has a malformed host list (host[:port],host[:port],...)');
    const port = hp[2] === undefined ? 5432 : Number(hp[2]);
    if (port < 1 || port > 65535) throw new TypeError('postgres connection string has a port out of range');
    return { host: hp[1]!, port };
  });
  if (hosts.length > 1 && hosts.some((h) => h.host === '')) throw new TypeError('postgres connection string has an empty host in its host list');
  const attrs = /[?&]target_session_attrs=([^&#]*)/.exec(rest)?.[1];
  if (attrs !== undefined && attrs !== 'any' && attrs !== 'read-write') {
    throw new TypeError('postgres connection string: target_session_attrs must be any or read-write (latchkey writes)');
  }
  const urls = hosts.map((h) => `${scheme}${userinfo}${h.host}${hostPart === '' ? '' : `:${h.port}`}${rest}`);
  return { hosts, readWrite: attrs === 'read-write', urls };
}

/** Whether the string names more than one host or asks for a read-write server. */
export function needsHostSelection(list: HostList): boolean {
  return list.hosts.length > 1 || list.readWrite;
}
