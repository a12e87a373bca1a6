import { Layout } from './components/Layout.tsx';
import { AdminPage } from './pages/AdminPage.tsx';
import { ResearcherPage } from './pages/ResearcherPage.tsx';
import { VolunteerPage } from './pages/VolunteerPage.tsx';
import { usePath } from './router.tsx';

export function App() {
  const path = usePath();
  const page = path.startsWith('/admin') ? (
    <AdminPage />
  ) : path.startsWith('/research') ? (
    <ResearcherPage />
  ) : (
    <VolunteerPage />
  );
  return <Layout path={path}>{page}</Layout>;
}
