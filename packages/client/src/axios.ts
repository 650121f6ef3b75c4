/**
 * The fetch wrapper's behaviour as axios interceptors, for apps built on axios. Typed structurally,
 * so the SDK needs no axios import (and no dependency): any axios 1.x instance fits.
 *
 * Request: credentials, CSRF header, bearer token (header mode), and a note of the credentials
 * marker. Response: learn server time and issued tokens; on a latchkey 401, one refresh and one
 * retry, marked on the config so that the retry can never trigger another.
 */
import { ACCESS_TOKEN_HEADER, CSRF_HEADER, CSRF_TOKEN_HEADER, FRONT_HEADER, isStateChanging, toServerError } from './protocol.js';
import type { TransportHooks } from './transport.js';

/** What the SDK reads and writes on an axios request config. */
export interface AxiosConfigLike {
  url?: string;
  baseURL?: string;
  method?: string;
  withCredentials?: boolean;
  headers?: unknown;
  [key: string]: unknown;
}

interface AxiosResponseLike {
  status: number;
  data?: unknown;
  headers?: unknown;
  config?: AxiosConfigLike;
}

/**
 * The part of an axios instance the interceptor uses, generic over axios's own config and response
 * types so that a real `AxiosInstance` fits exactly (the tests type-check one against it).
 */
export interface AxiosLike<Config extends object = AxiosConfigLike, Res extends object = object> {
  interceptors: {
    request: {
      use(onFulfilled?: ((config: Config) => Config | Promise<Config>) | null, onRejected?: ((error: unknown) => unknown) | null): number;
      eject(id: number): void;
    };
    response: {
      use(onFulfilled?: ((response: Res) => Res | Promise<Res>) | null, onRejected?: ((error: unknown) => unknown) | null): number;
      eject(id: number): void;
    };
  };
  request(config: Config): Promise<unknown>;
}

/** Per-request state, on the config object axios hands back with the response or error. */
const META = '__latchkey';
interface Meta {
  marker: string | null;
  retried: boolean;
  /**
   * This request's 401 has been dealt with (reported or retried). With the interceptor installed
   * twice, or on the retry's way back out through the outer handlers, the error passes every
   * handler: only the first may act on it, so `unauthorised` fires once per failed request.
   */
  done?: boolean;
  /** This request was resent once with a new DPoP nonce; never again. */
  nonced?: boolean;
}

function headerGet(headers: unknown, name: string): string | null {
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const value = typeof h?.get === 'function' ? h.get(name) : h?.[name.toLowerCase()];
  return typeof value === 'string' ? value : null;
}

function headerSet(config: AxiosConfigLike, name: string, value: string): void {
  const h = (config.headers ??= {}) as { set?: (n: string, v: string) => void } & Record<string, unknown>;
  if (typeof h.set === 'function') h.set(name, value);
  else h[name] = value;
}

/** The URL axios will request: its own absolute-URL rule, protocol-relative `//host` included. */
function fullUrl(config: AxiosConfigLike): string {
  const url = config.url ?? '';
  if (!config.baseURL || /^([a-z][a-z\d+.-]*:)?\/\//i.test(url)) return url;
  return `${config.baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
}

export function createAxiosInterceptor<C extends object, R extends object>(instance: AxiosLike<C, R>, hooks: TransportHooks): () => void {
  const onRequest = async (config: AxiosConfigLike): Promise<AxiosConfigLike> => {
    if (!hooks.isApi(fullUrl(config))) return config;
    const previous = config[META] as Meta | undefined;
    const own = headerGet(config.headers, 'authorization');
    const headers = new Headers(own ? { authorization: own } : {});
    if (isStateChanging(config.method ?? 'get')) headers.set(CSRF_HEADER, hooks.credentials.csrf());
    // The bearer unless the app set its own; on the retry, the stale one (ours or the app's copy of
    // it, from the marker of the first send) is replaced.
    await hooks.credentials.authorize(headers, previous?.marker ?? null, (config.method ?? 'get').toUpperCase(), fullUrl(config));
    headers.forEach((value, name) => headerSet(config, name === 'authorization' ? 'Authorization' : name, value));
    if (hooks.mode === 'cookie') config.withCredentials = true;
    const meta: Meta = {
      marker: previous?.retried ? previous.marker : await hooks.credentials.marker(),
      retried: previous?.retried ?? false,
      nonced: previous?.nonced ?? false,
    };
    config[META] = meta;
    return config;
  };

  const toResponse = (r: AxiosResponseLike): Response => {
    const headers = new Headers();
    // Everything observe() and accept() read: tokens issued or updated, the CSRF token, server time.
    for (const name of [FRONT_HEADER, ACCESS_TOKEN_HEADER, CSRF_TOKEN_HEADER, 'date', 'dpop-nonce']) {
      const value = headerGet(r.headers, name);
      if (value) headers.set(name, value);
    }
    return new Response(r.data === undefined ? null : JSON.stringify(r.data), { status: r.status, headers });
  };

  const onResponse = async (response: AxiosResponseLike): Promise<AxiosResponseLike> => {
    const config = response.config;
    if (config && hooks.isApi(fullUrl(config))) await hooks.observe(toResponse(response), (config[META] as Meta | undefined)?.marker ?? null);
    return response;
  };

  const onError = async (error: { response?: AxiosResponseLike; config?: AxiosConfigLike }): Promise<unknown> => {
    const { response, config } = error ?? {};
    if (!response || response.status !== 401 || !config || !hooks.isApi(fullUrl(config))) throw error;
    const meta = config[META] as Meta | undefined;
    if (meta?.done) throw error;
    // DPoP (RFC 9449 §8): refused for want of a nonce we did not have yet: one resend, with it.
    if (!meta?.nonced && hooks.credentials.nonce(headerGet(response.headers, 'dpop-nonce'))) {
      config[META] = { ...meta, nonced: true };
      return instance.request(config as C);
    }
    const serverError = toServerError(response.data);
    const marker = meta?.marker ?? null;
    config[META] = { ...meta, marker, done: true };
    if (meta?.retried || !(await hooks.refreshable(serverError, marker)) || !(await hooks.recover(marker))) {
      hooks.unauthorised(fullUrl(config), serverError?.code ?? null);
      throw error;
    }
    config[META] = { marker, retried: true };
    return instance.request(config as C);
  };

  // axios hands back the same objects it was given: its config and response are these shapes.
  const requestId = instance.interceptors.request.use(onRequest as unknown as (config: C) => Promise<C>);
  const responseId = instance.interceptors.response.use(onResponse as unknown as (response: R) => Promise<R>, onError as (error: unknown) => unknown);
  return () => {
    instance.interceptors.request.eject(requestId);
    instance.interceptors.response.eject(responseId);
  };
}
