// @vitest-environment node
import { afterEach, describe, expect, test, vi } from 'vitest';
import { uploadDataset } from './upload';

// A fake server of the upload API: stores what arrives at the right offset, drops the
// connection on the chunks named in `drops`, and makes the dataset at the end.
function fakeServer(size: number, drops: Set<number>, existing?: { offset: number; size: number }) {
  const stored: number[] = [];
  let offset = existing?.offset ?? 0;
  let calls = 0;
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    if (url.endsWith('/datasets/big/upload')) {
      return existing ? json(200, { id: 'upl_1', dataset: 'big', size: existing.size, offset }) : json(404, { error: { code: 'not_found', message: 'none' } });
    }
    if (url.endsWith('/uploads') && method === 'POST') {
      if (existing && existing.size !== size && offset > 0) {
        return json(409, { error: { code: 'already_exists', message: 'you are uploading dataset big already' } });
      }
      if (existing && existing.size === size) return json(200, { id: 'upl_1', dataset: 'big', size, offset });
      return json(201, { id: 'upl_1', dataset: 'big', size, offset: 0 });
    }
    if (url.endsWith('/uploads/upl_1') && method === 'GET') return json(200, { id: 'upl_1', dataset: 'big', size, offset });
    if (url.endsWith('/uploads/upl_1') && method === 'DELETE') {
      offset = 0;
      return new Response(null, { status: 204 });
    }
    if (url.endsWith('/uploads/upl_1') && method === 'PATCH') {
      calls++;
      const headers = init!.headers as Record<string, string>;
      const at = Number(headers['Upload-Offset']);
      const bytes = new Uint8Array(init!.body as ArrayBuffer);
      if (drops.has(calls)) {
        throw new TypeError('network'); // the connection dropped: nothing stored
      }
      if (at !== offset) return json(409, { error: { code: 'failed_precondition', message: `at byte ${offset}` } });
      stored.push(...bytes);
      offset += bytes.length;
      return json(200, { offset, dataset: offset === size ? { name: 'big' } : null });
    }
    return json(500, {});
  });
  return { fetchMock, stored };
}

afterEach(() => vi.unstubAllGlobals());

describe('resumable uploads from the browser', () => {
  test('a file arrives whole in order after dropped connections', async () => {
    const data = new Uint8Array(1000).map((_, i) => i % 251);
    const { fetchMock, stored } = fakeServer(data.length, new Set([2, 5]));
    vi.stubGlobal('fetch', fetchMock);
    const seen: number[] = [];
    const d = await uploadDataset('p', 'big', 'secret', new Blob([data]), {
      chunkBytes: 128,
      wait: async () => {},
      onProgress: (sent) => seen.push(sent),
    });
    expect(d.name).toBe('big');
    expect(stored).toEqual([...data]);
    expect(seen.at(-1)).toBe(1000);
  });

  test('resumes an unfinished upload of the same size, and starts again for another file', async () => {
    const data = new Uint8Array(300).map((_, i) => i % 7);
    const resumed = fakeServer(300, new Set(), { offset: 100, size: 300 });
    vi.stubGlobal('fetch', resumed.fetchMock);
    await uploadDataset('p', 'big', 'open', new Blob([data]), { chunkBytes: 100 });
    // Resumed where it was: no byte before the offset is sent again.
    const patches = resumed.fetchMock.mock.calls.filter(([, i]) => (i as RequestInit | undefined)?.method === 'PATCH');
    expect(patches.length).toBe(2);
    expect(resumed.stored).toEqual([...data.slice(100)]);
    const other = fakeServer(300, new Set(), { offset: 50, size: 999 });
    vi.stubGlobal('fetch', other.fetchMock);
    await uploadDataset('p', 'big', 'open', new Blob([data]), { chunkBytes: 100 });
    expect(other.fetchMock.mock.calls.some(([, i]) => (i as RequestInit | undefined)?.method === 'DELETE')).toBe(true);
  });

  test('gives up after its retries and says why', async () => {
    const { fetchMock } = fakeServer(10, new Set([1, 2, 3, 4]));
    vi.stubGlobal('fetch', fetchMock);
    await expect(
      uploadDataset('p', 'big', 'open', new Blob([new Uint8Array(10)]), { retries: 2, wait: async () => {} }),
    ).rejects.toThrow('network');
  });
});
