import { describe, expect, it } from 'vitest';
import { parseVolumes } from './Clusters';
import { clusterList } from './ProjectPages';

describe('cluster forms', () => {
  it('reads server folders as claims or host paths, and names a bad line', () => {
    expect(parseVolumes('/srv/data=claim:datasets\n\n /srv/vol=host:/mnt/vol ')).toEqual([
      { server_path: '/srv/data', claim: 'datasets' },
      { server_path: '/srv/vol', host_path: '/mnt/vol' },
    ]);
    expect(parseVolumes('')).toEqual([]);
    expect(parseVolumes('/srv/data=nfs:x')).toBe('/srv/data=nfs:x');
    expect(parseVolumes('relative=claim:x')).toBe('relative=claim:x');
  });
  it('splits a project’s clusters at commas and spaces', () => {
    expect(clusterList('east, west  local')).toEqual(['east', 'west', 'local']);
    expect(clusterList(' , ')).toEqual([]);
  });
});
