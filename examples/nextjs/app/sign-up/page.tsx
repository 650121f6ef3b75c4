import { AuthForm } from '@/components/auth-form';

export default function SignUp() {
  return (
    <main>
      <h1>Sign up</h1>
      <AuthForm kind="sign-up" />
    </main>
  );
}
