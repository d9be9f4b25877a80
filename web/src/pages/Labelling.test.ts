import { describe, expect, test } from 'vitest';
import { parseAttributes } from './Labelling';

describe('the labelling task form', () => {
  test('reads attributes as NAME: VALUE | VALUE; ...', () => {
    expect(parseAttributes('occluded: no | yes; truncated:no|yes')).toEqual([
      { name: 'occluded', values: ['no', 'yes'] },
      { name: 'truncated', values: ['no', 'yes'] },
    ]);
    expect(parseAttributes('  ')).toEqual([]);
    // A name without values is sent as such: the server says what is wrong with it.
    expect(parseAttributes('colour')).toEqual([{ name: 'colour', values: [] }]);
  });
});
