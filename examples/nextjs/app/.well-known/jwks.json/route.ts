// The public keys, for the proxy's edge verifier (and any other service verifying these tokens).
import { getAuth } from '@/lib/auth';

export const dynamic = 'force-dynamic'; // served by the running engine, never frozen at build time

export async function GET(request: Request): Promise<Response> {
  const { http } = await getAuth();
  return (await http.fetch(request)) ?? new Response(null, { status: 404 });
}
