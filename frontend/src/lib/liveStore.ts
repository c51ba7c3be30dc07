// The app's single LiveStore, wired to the browser's EventSource.

import { api } from './api';
import { ApiError } from './errors';
import { probe } from './http';
import { ALL_NETWORKS, LiveStore } from './live';

export const liveStore = new LiveStore({
  open: (url) => new EventSource(url, { withCredentials: true }),
  urlFor: (id) => (id === ALL_NETWORKS ? api.eventsUrl : api.networks.eventsUrl(id)),
  // EventSource hides the status of a refusal: ask the same URL once more. A 401 goes
  // to the global handler (the login page); a 429 or 503 (the stream caps, a busy
  // server) carries the server's reason, shown by the page while it retries.
  whyRefused: (url) =>
    probe(url).then(
      () => null,
      (e: unknown) => (e instanceof ApiError && e.status !== 401 ? e.message : null),
    ),
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
});
