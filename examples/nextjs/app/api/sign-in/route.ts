// Sign-in: check the password, then start the session.
import { startSession } from '@/lib/sign-in';
import { checkPassword } from '@/lib/users';

export async function POST(request: Request): Promise<Response> {
  return startSession(request, async (email, password) => {
    const userId = await checkPassword(email, password);
    return userId ? { userId } : { status: 401, code: 'BAD_CREDENTIALS', message: 'wrong email or password' };
  });
}
