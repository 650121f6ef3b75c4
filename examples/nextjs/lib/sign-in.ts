/**
 * Sign-up and sign-in share their shape: read the form, check login CSRF before the password, let
 * latchkey start the session (cookies, or tokens in the body in header mode), answer its errors.
 */
import { fromWebRequest, HeaderList } from 'latchkey/http';
import { getAuth } from './auth';

type Decide = (email: string, password: string) => Promise<{ userId: string } | { status: number; code: string; message: string }>;

export async function startSession(request: Request, decide: Decide): Promise<Response> {
  const { http } = await getAuth();
  const req = fromWebRequest(request.clone()); // the clone keeps the body readable below
  const headers = new HeaderList();
  try {
    http.checkLoginCsrf(req);
    const form = (await request.json().catch(() => null)) as { email?: unknown; password?: unknown } | null;
    if (typeof form?.email !== 'string' || typeof form.password !== 'string' || form.password.length < 8)
      return Response.json(
        { error: { code: 'INVALID_REQUEST', message: 'email and a password of 8 characters or more' } },
        { status: 400 },
      );
    const outcome = await decide(form.email.toLowerCase(), form.password);
    if (!('userId' in outcome))
      return Response.json({ error: { code: outcome.code, message: outcome.message } }, { status: outcome.status });
    const { body } = await http.signIn(req, { userId: outcome.userId, idClaims: { email: form.email } }, headers);
    const response = Response.json(body);
    for (const [name, value] of headers.entries) response.headers.append(name, value);
    return response;
  } catch (error) {
    const failure = http.errorResponse(error);
    return new Response(failure.body, { status: failure.status, headers: failure.headers });
  }
}
