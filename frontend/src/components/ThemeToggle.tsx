// System / light / dark: at the foot of the navigation, and on the sign-in and setup
// screens. The choice is remembered in this browser; `theme()` keeps the page current.

import { useSyncExternalStore } from 'react';
import { THEME_PREFS, ThemeController, type ThemePref } from '../lib/theme';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

let controller: ThemeController | null = null;

/** The page's one theme controller (made on first use: modules load without a window in
 *  the unit tests); main.tsx starts it before the first render. */
export function theme(): ThemeController {
  controller ??= new ThemeController({
    storage: storage(),
    media: window.matchMedia?.('(prefers-color-scheme: dark)') ?? null,
    root: document.documentElement,
    onStorage: (listener) => {
      const on = (e: StorageEvent) => listener(e.key);
      window.addEventListener('storage', on);
      return () => window.removeEventListener('storage', on);
    },
  });
  return controller;
}

export function ThemeToggle() {
  const t = theme();
  const pref = useSyncExternalStore(t.subscribe, t.getPref, t.getPref);
  return (
    <label className="theme-toggle">
      <span className="theme-label">Theme</span>
      <select value={pref} onChange={(e) => t.choose(e.target.value as ThemePref)}>
        {THEME_PREFS.map((p) => (
          <option key={p.value} value={p.value}>
            {p.label}
          </option>
        ))}
      </select>
    </label>
  );
}
