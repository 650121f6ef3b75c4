// The root layout: the latchkey provider for every page. No web fonts: the build fetches nothing.
import type { ReactNode } from 'react';
import { Providers } from '@/components/providers';

export const metadata = { title: 'latchkey on Next.js' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <nav>
            <a href="/">Home</a> · <a href="/dashboard">Dashboard</a> · <a href="/devices">Your devices</a> ·{' '}
            <a href="/header-mode">Header mode</a>
          </nav>
          {children}
        </Providers>
      </body>
    </html>
  );
}
