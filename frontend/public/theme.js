// The colour theme, applied before the first paint: a classic script in <head>, run
// before the body is parsed (the CSP allows same-origin script files, no inline
// script). The same rules as src/lib/theme.ts, which a test holds it to:
// localStorage "wgpilot.theme" is "light" or "dark"; anything else follows the system.
(function () {
  var pref = 'system';
  try {
    var saved = window.localStorage.getItem('wgpilot.theme');
    if (saved === 'light' || saved === 'dark') pref = saved;
  } catch (e) {
    /* storage unavailable: follow the system */
  }
  var dark = pref === 'dark' || (pref === 'system' && !!window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.setAttribute('data-theme', dark ? 'dark' : 'light');
})();
