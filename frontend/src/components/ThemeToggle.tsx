// System / light / dark, at the foot of the navigation. The choice is remembered in this browser.

import { useEffect, useState } from 'react';
import { THEME_PREFS, applyTheme, readPref, resolveTheme, savePref, type ThemePref } from '../lib/theme';

const DARK_QUERY = '(prefers-color-scheme: dark)';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function ThemeToggle() {
  const [pref, setPref] = useState<ThemePref>(() => readPref(storage()));
  useEffect(() => {
    const media = window.matchMedia?.(DARK_QUERY);
    const apply = () => applyTheme(document.documentElement, resolveTheme(pref, media?.matches ?? false));
    apply();
    if (pref !== 'system' || !media) return;
    media.addEventListener('change', apply); // follow the system while the choice is "system"
    return () => media.removeEventListener('change', apply);
  }, [pref]);
  return (
    <label className="theme-toggle">
      <span className="theme-label">Theme</span>
      <select
        value={pref}
        onChange={(e) => {
          const next = e.target.value as ThemePref;
          savePref(storage(), next);
          setPref(next);
        }}
      >
        {THEME_PREFS.map((p) => (
          <option key={p.value} value={p.value}>
            {p.label}
          </option>
        ))}
      </select>
    </label>
  );
}
