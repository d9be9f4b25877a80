import { describe, expect, test } from 'vitest';
import { parseClassMap } from './PreAnnotate';

describe('the pre-annotation form', () => {
  test('reads class names as NAME=CLASS, ...', () => {
    expect(parseClassMap('truck=car, bus = car')).toEqual({ truck: 'car', bus: 'car' });
    expect(parseClassMap('  ')).toEqual({});
    // A pair without both sides is not sent.
    expect(parseClassMap('truck car')).toBeNull();
    expect(parseClassMap('=car')).toBeNull();
    expect(parseClassMap('truck=')).toBeNull();
  });
});
