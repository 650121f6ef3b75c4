// Names that the README and docs snippets use without defining them: the app's own things.
// A snippet that defines one of these (e.g. `const app = new Hono()`) shadows it.
declare const latchkey: import('latchkey').Latchkey;
declare const user: { id: string; role: string; name: string; email: string };
declare const current: { id: string };
declare const userAgent: string;
declare const ip: string;
declare const app: import('express').Express;
declare function verifyPassword(...input: unknown[]): Promise<{ id: string; name: string }>;
declare function showSignIn(): void;
declare const router: { push(path: string): void };
declare const form: FormData;
declare const body: string;
declare const secureStore: import('@latchkey/client').TokenStorage;
declare const options: import('latchkey/http').LatchkeyHttpOptions;
declare const request: Request;
