import { describe, expect, it } from 'vitest';
import { rowHeight, visibleRange } from './ProjectJobs';

describe('the job list renders only the rows in view', () => {
  it('at the top: the first screen and the overscan below it', () => {
    expect(visibleRange(0, 20 * rowHeight, 10000)).toEqual([0, 40]);
  });
  it('scrolled into ten thousand: a window around the view, never the whole list', () => {
    const [first, last] = visibleRange(5000 * rowHeight, 20 * rowHeight, 10000);
    expect(first).toBe(4980);
    expect(last).toBe(5040);
  });
  it('moves in steps: a few pixels of scrolling render nothing new', () => {
    expect(visibleRange(5000 * rowHeight + 5 * rowHeight, 20 * rowHeight, 10000)).toEqual([4980, 5050]);
    expect(visibleRange(5000 * rowHeight + 3, 20 * rowHeight, 10000)).toEqual([4980, 5040]);
  });
  it('at the end and in short lists: never past the last row', () => {
    expect(visibleRange(9990 * rowHeight, 20 * rowHeight, 10000)).toEqual([9970, 10000]);
    expect(visibleRange(0, 800, 3)).toEqual([0, 3]);
    expect(visibleRange(0, 800, 0)).toEqual([0, 0]);
  });
});
