// Colour theme: the user's choice (system, light or dark), remembered in localStorage,
// and the theme it resolves to, set as <html data-theme="light|dark"> (the stylesheet
// keys its colours on it). public/theme.js applies the same rules before the first
// paint; this module keeps it current when the choice or the system setting changes.

export type ThemePref = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

export const THEME_KEY = 'wgpilot.theme';
export const THEME_PREFS: { value: ThemePref; label: string }[] = [
  { value: 'system', label: 'System' },
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
];

/** The saved choice; "system" when none is saved, it is unknown, or storage is unavailable. */
export function readPref(storage: Pick<Storage, 'getItem'> | null | undefined): ThemePref {
  try {
    const v = storage?.getItem(THEME_KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

/** Remember a choice ("system" forgets it). Returns false when it could not be stored. */
export function savePref(storage: Pick<Storage, 'setItem' | 'removeItem'> | null | undefined, pref: ThemePref): boolean {
  try {
    if (!storage) return false;
    if (pref === 'system') storage.removeItem(THEME_KEY);
    else storage.setItem(THEME_KEY, pref);
    return true;
  } catch {
    return false;
  }
}

export function resolveTheme(pref: ThemePref, systemDark: boolean): Theme {
  return pref === 'system' ? (systemDark ? 'dark' : 'light') : pref;
}

export function applyTheme(root: Pick<HTMLElement, 'setAttribute'>, theme: Theme): void {
  root.setAttribute('data-theme', theme);
}
