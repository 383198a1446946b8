// Vigil's web UI: top navigation and the client-side routes under /ui/.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { linkClick, useRoute } from './router';
import { Explore } from './pages/Explore';
import { Dashboards } from './pages/Dashboards';
import { DashboardPage } from './pages/Dashboard';
import { Alerts } from './pages/Alerts';
import { Rules } from './pages/Rules';
import { Silences } from './pages/Silences';
import { Targets } from './pages/Targets';
import { Status } from './pages/Status';

const NAV: [string, string][] = [
  ['explore', 'Explore'],
  ['dashboards', 'Dashboards'],
  ['alerts', 'Alerts'],
  ['rules', 'Rules'],
  ['silences', 'Silences'],
  ['targets', 'Targets'],
  ['status', 'Status'],
];

function Page({ route }: { route: string }) {
  const [first, ...rest] = route.split('/');
  switch (first) {
    case '':
    case 'explore':
      return <Explore />;
    case 'dashboards':
      if (rest.length === 0) return <Dashboards />;
      if (rest[0] === 'new') return <DashboardPage key="new" uid={null} />;
      return <DashboardPage key={rest[0]} uid={decodeURIComponent(rest[0])} />;
    case 'alerts':
      return <Alerts />;
    case 'rules':
      return <Rules />;
    case 'silences':
      return <Silences />;
    case 'targets':
      return <Targets />;
    case 'status':
      return <Status />;
  }
  return (
    <div class="page">
      <h1>Not found</h1>
      <p>
        There is no page at <code>{location.pathname}</code>. <a href="/ui/" onClick={linkClick}>Go to Explore</a>.
      </p>
    </div>
  );
}

function App() {
  const route = useRoute();
  const section = route.split('/')[0] || 'explore';
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [route]);
  return (
    <div class="app">
      <header class="topbar">
        <a class="brand" href="/ui/" onClick={linkClick}>
          <span class="logo" aria-hidden="true">◉</span> Vigil
        </a>
        <button class="menu-btn" aria-label="Menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>
          ☰
        </button>
        <nav class={menu ? 'open' : ''}>
          {NAV.map(([path, label]) => (
            <a href={`/ui/${path}`} class={section === path ? 'active' : ''} onClick={linkClick}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main>
        <Page key={route.split('/')[0]} route={route} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
