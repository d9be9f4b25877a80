import { describe, expect, test } from 'vitest';
import { can } from './permissions';

describe('permissions', () => {
  test('read like the server reads them', () => {
    expect(can(['job:*'], 'job', 'create')).toBe(true);
    expect(can(['job:get'], 'job', 'create')).toBe(false);
    expect(can(['*:*'], 'dataset_data', 'get')).toBe(true);
    expect(can(['dataset:list', 'dataset:get'], 'dataset_data', 'get')).toBe(false);
    expect(can(undefined, 'job', 'get')).toBe(false);
  });
});
