import { lazy, Suspense, useEffect, useRef, useState, type ComponentType, type LazyExoticComponent } from 'react';
import { ThemeToggle } from '../components/ThemeToggle';
import { Loading } from '../components/ui';
import { degradedMessage, refreshHealth, useHealth } from '../lib/health';
import { Link, matchPath, useLocation } from '../lib/router';
import { useSession } from './session';

type Page = LazyExoticComponent<ComponentType<{ params: Record<string, string> }>>;

const routes: { pattern: string; page: Page }[] = [
  { pattern: '/', page: lazy(() => import('../pages/Dashboard')) },
  { pattern: '/networks', page: lazy(() => import('../pages/Networks')) },
  { pattern: '/networks/:id', page: lazy(() => import('../pages/NetworkDetail')) },
  { pattern: '/bridges', page: lazy(() => import('../pages/Bridges')) },
  { pattern: '/alerts', page: lazy(() => import('../pages/Alerts')) },
  { pattern: '/settings', page: lazy(() => import('../pages/Settings')) },
  { pattern: '/audit', page: lazy(() => import('../pages/AuditLog')) },
  { pattern: '/system', page: lazy(() => import('../pages/System')) },
  { pattern: '/account', page: lazy(() => import('../pages/Account')) },
];
const NotFound = lazy(() => import('../pages/NotFound'));

const NAV = [
  { to: '/', label: 'Dashboard' },
  { to: '/networks', label: 'Networks' },
  { to: '/bridges', label: 'Bridges' },
  { to: '/alerts', label: 'Alerts' },
  { to: '/audit', label: 'Audit log' },
  { to: '/settings', label: 'Settings' },
  { to: '/system', label: 'System' },
];

function isActive(to: string, path: string): boolean {
  return to === '/' ? path === '/' : path === to || path.startsWith(`${to}/`);
}

function DegradedBanner() {
  const h = useHealth();
  const msg = degradedMessage(h);
  if (!msg) return null;
  return (
    <div className="banner banner-warn" role="alert" data-testid="degraded-banner">
      <strong>{msg.title}</strong>
      {msg.details.length > 0 && (
        <ul>
          {msg.details.slice(0, 5).map((d, i) => (
            <li key={i}>{d}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Layout() {
  const { user, logout } = useSession();
  const loc = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const first = useRef(true);

  // Health: once with /api/status at start, then /health on each page change
  // and when the tab regains focus (no timer).
  useEffect(() => {
    void refreshHealth(true);
    const onFocus = () => void refreshHealth();
    window.addEventListener('focus', onFocus);
    return () => window.removeEventListener('focus', onFocus);
  }, []);
  // Phone menu: keyboard focus goes into it when it opens, Esc closes it.
  useEffect(() => {
    if (!menuOpen) return;
    document.querySelector<HTMLElement>('#sidenav a')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setMenuOpen(false);
        document.querySelector<HTMLElement>('.menu-toggle')?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [menuOpen]);
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    void refreshHealth();
  }, [loc.path]);

  let match: { page: Page; params: Record<string, string> } | null = null;
  for (const r of routes) {
    const params = matchPath(r.pattern, loc.path);
    if (params) {
      match = { page: r.page, params };
      break;
    }
  }
  const Page = match?.page ?? NotFound;

  return (
    <div className={`app ${menuOpen ? 'menu-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="btn-icon menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="sidenav"
          aria-label={menuOpen ? 'Close menu' : 'Open menu'}
          onClick={() => setMenuOpen((o) => !o)}
        >
          <span aria-hidden="true">☰</span>
        </button>
        <Link to="/" className="brand">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span>wgpilot</span>
        </Link>
        <div className="topbar-user">
          <Link to="/account" className="user-link" aria-label={`Account of ${user.username}`}>
            <span className="avatar" aria-hidden="true">
              {user.username.slice(0, 1).toUpperCase()}
            </span>
            <span className="user-name">{user.username}</span>
          </Link>
          <button type="button" className="btn btn-ghost" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <nav id="sidenav" className="sidenav" aria-label="Main">
        <ul>
          {NAV.map((n) => (
            <li key={n.to}>
              <Link to={n.to} className={isActive(n.to, loc.path) ? 'active' : ''} aria-current={isActive(n.to, loc.path) ? 'page' : undefined}>
                {n.label}
              </Link>
            </li>
          ))}
          <li className="nav-sep">
            <Link to="/account" className={isActive('/account', loc.path) ? 'active' : ''} aria-current={isActive('/account', loc.path) ? 'page' : undefined}>
              Account &amp; password
            </Link>
          </li>
          <li className="nav-theme">
            <ThemeToggle />
          </li>
        </ul>
      </nav>
      {menuOpen && <div className="scrim" aria-hidden="true" onClick={() => setMenuOpen(false)} />}
      <main id="main" className="main" tabIndex={-1}>
        <DegradedBanner />
        <Suspense fallback={<Loading rows={4} />}>
          <Page params={match?.params ?? {}} key={loc.path} />
        </Suspense>
      </main>
    </div>
  );
}
