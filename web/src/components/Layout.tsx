import type { ReactNode } from 'react';
import { api, unwrap } from '../api-client.ts';
import { Link } from '../router.tsx';
import { useAsync } from '../use-async.ts';

const NAV = [
  { to: '/', label: 'Volunteer' },
  { to: '/admin', label: 'Admin' },
  { to: '/research', label: 'Researchers' },
];

export function Layout({ path, children }: { path: string; children: ReactNode }) {
  const health = useAsync(async () => unwrap(await api.api.health.$get()), []);
  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="logo" aria-hidden>
            ◆
          </span>
          CoOpt
        </Link>
        <nav>
          {NAV.map((n) => (
            <Link key={n.to} to={n.to} className={path === n.to ? 'active' : ''}>
              {n.label}
            </Link>
          ))}
        </nav>
      </header>
      <main className="content">{children}</main>
      <footer className="footer">
        <span>CoOpt collaborative data optimization</span>
        <span data-testid="health">
          {health.data
            ? `server ${health.data.version} · ${health.data.database.kind} · schema ${health.data.database.migration ?? 'none'}`
            : health.error
              ? `server unreachable: ${health.error}`
              : 'connecting…'}
        </span>
      </footer>
    </div>
  );
}
