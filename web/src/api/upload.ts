// Resumable uploads from the browser (docs/JOBS.md, "Uploads that resume"): the file goes
// in chunks at offsets, each with its SHA-256 when the page may hash (a secure context);
// a dropped connection or a crossed offset asks the server where the upload is and goes
// on from there, and a page reloaded mid-way resumes the same upload when the same file
// is chosen again.
import { ApiError, api, currentCsrfToken, errorOf, seg, type Schemas } from './client';

export interface UploadOptions {
  chunkBytes?: number;
  retries?: number; // per chunk, after a dropped connection
  onProgress?: (sent: number, total: number) => void;
  wait?: (ms: number) => Promise<void>;
}

type Upload = Schemas['Upload'];

async function sha256Hex(bytes: ArrayBuffer): Promise<string | null> {
  if (!globalThis.crypto?.subtle) return null; // plain http to another host: no hashing
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function failure(res: Response): Promise<ApiError> {
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    // not JSON: the status text says it
  }
  return errorOf(res.status, res.statusText, data);
}

export async function uploadDataset(
  project: string,
  dataset: string,
  level: string,
  file: Blob,
  o: UploadOptions = {},
): Promise<Schemas['Dataset']> {
  const chunk = o.chunkBytes ?? 8 << 20;
  const retries = o.retries ?? 5;
  const wait = o.wait ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const base = `/api/v1/projects/${seg(project)}`;
  const announce = () =>
    api<Upload>(`${base}/uploads`, { method: 'POST', body: { dataset, size: file.size, security_level: level } });
  // The server answers with the unfinished upload of the same dataset, size and level,
  // if there is one: it goes on from its offset.
  let up: Upload;
  try {
    up = await announce();
  } catch (e) {
    // An unfinished upload of another file (size or level): drop it and start again.
    if (!(e instanceof ApiError && e.status === 409 && /unfinished|uploading/.test(e.message))) throw e;
    const old = await api<Upload>(`${base}/datasets/${seg(dataset)}/upload`);
    await api(`${base}/uploads/${seg(old.id)}`, { method: 'DELETE' });
    up = await announce();
  }
  const url = `${base}/uploads/${seg(up.id)}`;
  let offset = up.offset;
  let tries = 0;
  o.onProgress?.(offset, file.size);
  for (;;) {
    const bytes = await file.slice(offset, offset + chunk).arrayBuffer();
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Upload-Offset': String(offset),
      'X-CSRF-Token': currentCsrfToken(),
    };
    const sum = await sha256Hex(bytes);
    if (sum) headers['Upload-Checksum'] = `sha256 ${sum}`;
    let res: Response | null = null;
    try {
      res = await fetch(url, { method: 'PATCH', headers, body: bytes, credentials: 'same-origin' });
    } catch {
      res = null; // the connection dropped
    }
    if (res?.ok) {
      tries = 0;
      const r = (await res.json()) as { offset: number; dataset: Schemas['Dataset'] | null };
      offset = r.offset;
      o.onProgress?.(offset, file.size);
      if (r.dataset) return r.dataset;
      continue;
    }
    if (res && res.status !== 409 && res.status < 500) throw await failure(res);
    if (++tries > retries) throw res ? await failure(res) : new TypeError('network');
    if (!res || res.status >= 500) await wait(1000 * 2 ** Math.min(tries - 1, 4));
    // Where is it now? Go on from there.
    offset = (await api<Upload>(url)).offset;
  }
}
