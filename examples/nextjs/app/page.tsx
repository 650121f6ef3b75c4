// Public home page: static, prerendered at build (it reads no session on the server).
import { SessionStatus } from '@/components/session-status';

export default function Home() {
  return (
    <main>
      <h1>latchkey on Next.js</h1>
      <SessionStatus />
    </main>
  );
}
