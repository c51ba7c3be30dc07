import { describe, expect, it } from 'vitest';
import script from '../../public/theme.js?raw';
import { readPref, resolveTheme, savePref, THEME_KEY, type ThemePref } from './theme';

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
