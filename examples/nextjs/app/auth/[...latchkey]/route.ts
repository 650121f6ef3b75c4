// latchkey's own routes under /auth: refresh, signout, sessions ("your devices"), and the revocation
// feed the proxy polls. The HTTP layer answers each with the protocol's cookies and JSON errors.
import { getAuth } from '@/lib/auth';

async function handler(request: Request): Promise<Response> {
  const { http } = await getAuth();
  return (await http.fetch(request)) ?? Response.json({ error: { code: 'NOT_FOUND', message: 'not found' } }, { status: 404 });
}

export { handler as GET, handler as POST, handler as DELETE, handler as OPTIONS };
