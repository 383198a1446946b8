import { render } from 'preact';
import './style.css';

function App() {
  return (
    <div class="app">
      <header class="topbar">
        <a class="brand" href="/ui/">Vigil</a>
      </header>
      <main class="page">Loading…</main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
