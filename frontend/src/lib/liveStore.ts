// The app's single LiveStore, wired to the browser's EventSource.

import { api } from './api';
import { request } from './http';
import { ALL_NETWORKS, LiveStore } from './live';

export const liveStore = new LiveStore({
  open: (url) => new EventSource(url, { withCredentials: true }),
  urlFor: (id) => (id === ALL_NETWORKS ? api.eventsUrl : api.networks.eventsUrl(id)),
  // A refused stream usually means the session ended: ask once, and let the
  // global 401 handler send the user to the login page if so.
  onRefused: () => {
    request('/api/auth/me').catch(() => undefined);
  },
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
});
