import { AuthForm } from '@/components/auth-form';

export default function SignIn() {
  return (
    <main>
      <h1>Sign in</h1>
      <AuthForm kind="sign-in" />
    </main>
  );
}
