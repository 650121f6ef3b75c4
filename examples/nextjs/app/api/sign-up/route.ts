// Sign-up: create the user, then start the session (route handlers may set cookies; pages may not).
import { startSession } from '@/lib/sign-in';
import { createUser } from '@/lib/users';

export async function POST(request: Request): Promise<Response> {
  return startSession(request, async (email, password) => {
    const userId = await createUser(email, password);
    return userId ? { userId } : { status: 409, code: 'EMAIL_TAKEN', message: 'that email already has an account' };
  });
}
