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

/** What the theme controller needs of the browser (a fake in the tests). */
export interface ThemeEnv {
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  /** `(prefers-color-scheme: dark)`, or null where matchMedia is missing */
  media: Pick<MediaQueryList, 'matches' | 'addEventListener' | 'removeEventListener'> | null;
  root: Pick<HTMLElement, 'setAttribute'>;
  /** `storage` events: another tab of this origin changed localStorage (key null: cleared) */
  onStorage: (listener: (key: string | null) => void) => () => void;
}

/**
 * The page's theme, kept current on every screen (sign-in, setup, app) from the start:
 * the choice made here or in another tab (a `storage` event), and the system setting,
 * live, while the choice is "system". The toggle reads and sets the choice through it.
 */
export class ThemeController {
  private pref: ThemePref;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly env: ThemeEnv) {
    this.pref = readPref(env.storage);
  }

  /** Apply the theme and follow changes until the returned function is called. */
  start(): () => void {
    this.apply();
    const onSystem = () => {
      if (this.pref === 'system') this.apply();
    };
    this.env.media?.addEventListener('change', onSystem);
    const stopStorage = this.env.onStorage((key) => {
      if (key !== null && key !== THEME_KEY) return;
      this.pref = readPref(this.env.storage);
      this.apply();
      this.emit();
    });
    return () => {
      this.env.media?.removeEventListener('change', onSystem);
      stopStorage();
    };
  }

  getPref = (): ThemePref => this.pref;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The user's choice: remembered in this browser (other tabs follow) and applied. */
  choose(pref: ThemePref): void {
    savePref(this.env.storage, pref);
    this.pref = pref;
    this.apply();
    this.emit();
  }

  private apply(): void {
    applyTheme(this.env.root, resolveTheme(this.pref, this.env.media?.matches ?? false));
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }
}
