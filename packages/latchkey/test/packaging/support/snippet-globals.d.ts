// Names that the README and docs snippets use without defining them: the app's own things.
// A snippet that defines one of these (e.g. `const app = new Hono()`) shadows it. A snippet that
// needs another one: add it here, or put `<!-- snippet-prelude: declare const x: T; -->` on the line
// above its fence (see snippets.mjs).
declare const latchkey: import('latchkey').Latchkey;
declare const session: import('latchkey/http').LatchkeySession;
declare const user: { id: string; role: string; name: string; email: string };
declare const current: { id: string };
declare const userAgent: string;
declare const ip: string;
declare const app: import('express').Express;
declare function verifyPassword(...input: unknown[]): Promise<{ id: string; name: string }>;
declare function showSignIn(): void;
declare function renderUser(claims: unknown): void;
declare const router: { push(path: string): void };
declare const form: FormData;
declare const body: string;
declare const secureStore: import('@latchkey/client').TokenStorage;
declare const options: import('latchkey/http').LatchkeyHttpOptions;
declare const request: Request;
// Recipe fragments call the store and bus factories without repeating their imports.
declare const postgresStore: typeof import('latchkey/stores/postgres').postgresStore;
declare const pgNotifyBus: typeof import('latchkey/revocation/pg-notify').pgNotifyBus;
declare const redisBus: typeof import('latchkey/revocation/redis').redisBus;
