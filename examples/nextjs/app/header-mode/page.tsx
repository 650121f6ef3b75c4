import { HeaderModeDemo } from '@/components/header-mode-demo';

export default function HeaderMode() {
  return (
    <main>
      <h1>Header mode</h1>
      <HeaderModeDemo />
    </main>
  );
}
