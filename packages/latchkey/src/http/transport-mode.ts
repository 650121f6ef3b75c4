/**
 * The transport of one request, in a module of its own: the error table (errors.ts) needs it, and the
 * options (options.ts), which re-export it, need the error table's body type for `renderError`.
 */
export type TransportMode = 'cookie' | 'header';
