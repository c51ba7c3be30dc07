import { describe, expect, it } from 'vitest';
import script from '../../public/theme.js?raw';
import { readPref, resolveTheme, savePref, THEME_KEY, ThemeController, type ThemePref } from './theme';

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string): string | null {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.data.set(k, v);
  }
  removeItem(k: string): void {
    this.data.delete(k);
  }
}

/** Run public/theme.js (the pre-paint script) against a fake window; the theme it sets. */
function prePaint(saved: string | null, systemDark: boolean, storageThrows = false): string | null {
  let set: string | null = null;
  const storage = new MemoryStorage();
  if (saved !== null) storage.setItem(THEME_KEY, saved);
  const win = {
    get localStorage() {
      if (storageThrows) throw new Error('denied');
      return storage;
    },
    matchMedia: (q: string) => ({ matches: q === '(prefers-color-scheme: dark)' && systemDark }),
  };
  const doc = { documentElement: { setAttribute: (k: string, v: string) => (set = k === 'data-theme' ? v : set) } };
  new Function('window', 'document', script)(win, doc);
  return set;
}

describe('colour theme', () => {
  it('the choice resolves against the system setting', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });

  it('is remembered, and "system" forgets it', () => {
    const s = new MemoryStorage();
    expect(readPref(s)).toBe('system');
    savePref(s, 'dark');
    expect(readPref(s)).toBe('dark');
    savePref(s, 'system');
    expect(s.data.has(THEME_KEY)).toBe(false);
    s.setItem(THEME_KEY, 'purple');
    expect(readPref(s)).toBe('system');
    expect(readPref({ getItem: () => { throw new Error('denied'); } })).toBe('system');
  });

  it('the pre-paint script follows the same rules as the app', () => {
    for (const saved of [null, 'light', 'dark', 'system', 'purple']) {
      for (const dark of [false, true]) {
        const s = new MemoryStorage();
        if (saved !== null) s.setItem(THEME_KEY, saved);
        expect(prePaint(saved, dark), `${saved} / system dark ${dark}`).toBe(resolveTheme(readPref(s) as ThemePref, dark));
      }
    }
    expect(prePaint('dark', false, true)).toBe('light'); // no storage: the system's
  });
});

/** A browser for the controller: a system setting that can change, and other tabs that write storage. */
function fakeBrowser(systemDark = false) {
  const storage = new MemoryStorage();
  const mediaListeners = new Set<() => void>();
  const storageListeners = new Set<(key: string | null) => void>();
  const media = {
    matches: systemDark,
    addEventListener: (_: string, l: () => void) => mediaListeners.add(l),
    removeEventListener: (_: string, l: () => void) => mediaListeners.delete(l),
  };
  let theme: string | null = null;
  const env = {
    storage,
    media: media as unknown as MediaQueryList,
    root: { setAttribute: (k: string, v: string) => (theme = k === 'data-theme' ? v : theme) },
    onStorage: (l: (key: string | null) => void) => {
      storageListeners.add(l);
      return () => storageListeners.delete(l);
    },
  };
  return {
    env,
    storage,
    theme: () => theme,
    setSystem(dark: boolean) {
      media.matches = dark;
      for (const l of [...mediaListeners]) l();
    },
    /** another tab of the origin wrote (or cleared) localStorage */
    otherTab(value: string | null, key: string | null = THEME_KEY) {
      if (key === null) storage.data.clear();
      else if (value === null) storage.removeItem(key);
      else storage.setItem(key, value);
      for (const l of [...storageListeners]) l(key);
    },
    listening: () => mediaListeners.size + storageListeners.size,
  };
}

describe('the theme controller (every screen, every tab)', () => {
  it('follows the system live while the choice is "system", and only then', () => {
    const b = fakeBrowser(false);
    const c = new ThemeController(b.env);
    c.start();
    expect(b.theme()).toBe('light');
    b.setSystem(true);
    expect(b.theme()).toBe('dark');
    c.choose('light');
    b.setSystem(true);
    expect(b.theme()).toBe('light');
    c.choose('system');
    expect(b.theme()).toBe('dark');
    expect(b.storage.data.has(THEME_KEY)).toBe(false);
  });

  it('follows a choice made in another tab, and tells the toggle', () => {
    const b = fakeBrowser(false);
    const c = new ThemeController(b.env);
    c.start();
    let told = 0;
    c.subscribe(() => told++);
    b.otherTab('dark');
    expect(c.getPref()).toBe('dark');
    expect(b.theme()).toBe('dark');
    expect(told).toBe(1);
    b.otherTab(null); // "system" chosen there
    expect(c.getPref()).toBe('system');
    expect(b.theme()).toBe('light');
    b.otherTab('x', 'some.other.key'); // not ours
    expect(told).toBe(2);
    b.otherTab(null, null); // storage cleared
    expect(told).toBe(3);
  });

  it('starts from the saved choice and stops listening when stopped', () => {
    const b = fakeBrowser(true);
    b.storage.setItem(THEME_KEY, 'light');
    const c = new ThemeController(b.env);
    const stop = c.start();
    expect(b.theme()).toBe('light');
    expect(b.listening()).toBe(2);
    stop();
    expect(b.listening()).toBe(0);
  });
});
