// An API route: the same getSession() as the pages, in cookie mode (cookies) and header mode (bearer).
import { getSession } from '@/lib/session';

export async function GET(): Promise<Response> {
  const session = await getSession();
  if (!session) return Response.json({ error: { code: 'TRY_REFRESH_TOKEN', message: 'sign in or refresh' } }, { status: 401 });
  return Response.json({ userId: session.userId });
}
