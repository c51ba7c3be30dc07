import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';

function serve(pages: Record<string, unknown>) {
  const fetchMock = vi.fn(async (url: string) => {
    const path = url.split('?')[0] as string;
    return new Response(JSON.stringify(pages[path]), { status: 200, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

afterEach(() => vi.unstubAllGlobals());

describe('list endpoints', () => {
  it('asks paged lists page by page until total', async () => {
    const f = vi.fn(async (url: string) => {
      const offset = Number(new URL(url, 'https://x').searchParams.get('offset'));
      const items = offset === 0 ? Array.from({ length: 200 }, (_, i) => ({ id: i })) : [{ id: 200 }];
      return new Response(JSON.stringify({ items, total: 201 }), { status: 200, headers: { 'Content-Type': 'application/json' } });
    });
    vi.stubGlobal('fetch', f);
    const nets = await api.networks.list();
    expect(nets).toHaveLength(201);
    expect(f.mock.calls.map((c) => c[0])).toEqual(['/api/networks?limit=200&offset=0', '/api/networks?limit=200&offset=200']);
  });

  it('reads alert rules in one request without paging parameters (the endpoint refuses them)', async () => {
    const f = serve({ '/api/alerts': { items: [{ id: 1 }, { id: 2 }], total: 2 } });
    const alerts = await api.alerts.list();
    expect(alerts.map((a) => a.id)).toEqual([1, 2]);
    expect(f.mock.calls.map((c) => c[0])).toEqual(['/api/alerts']);
  });
});
