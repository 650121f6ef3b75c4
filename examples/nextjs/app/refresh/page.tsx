import { Refresher } from '@/components/refresher';

export default function Refresh() {
  return (
    <main>
      <Refresher />
    </main>
  );
}
