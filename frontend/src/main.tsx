import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { theme } from './components/ThemeToggle';
import './styles/app.css';

theme().start(); // for the page's lifetime: every screen follows the theme choice and the system

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
