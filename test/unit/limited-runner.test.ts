import { describe, expect, it } from 'vitest';
import { runLimited } from '../../src/controller/limited-runner.js';

describe('runLimited', () => {
  it('keeps to the limit, one per group, in order', async () => {
    const items = ['a1', 'a2', 'b1', 'c1', 'b2'];
    const order: string[] = [];
    let running = 0;
    let max = 0;
    const groupsRunning = new Set<string>();
    await runLimited(items, {
      maxConcurrent: 2,
      groupOf: (i) => i.charAt(0),
      run: async (i) => {
        expect(groupsRunning.has(i.charAt(0))).toBe(false);
        groupsRunning.add(i.charAt(0));
        order.push(i);
        max = Math.max(max, ++running);
        await Promise.resolve();
        running--;
        groupsRunning.delete(i.charAt(0));
      },
    });
    expect(max).toBe(2);
    expect(order).toEqual(['a1', 'b1', 'a2', 'c1', 'b2']);
  });

  it('starts nothing new once aborted and returns what never started', async () => {
    const controller = new AbortController();
    const left = await runLimited([1, 2, 3], {
      maxConcurrent: 1,
      groupOf: String,
      signal: controller.signal,
      run: async () => controller.abort(),
    });
    expect(left).toEqual([2, 3]);
  });

  it('rejects a bad limit', async () => {
    await expect(runLimited([1], { maxConcurrent: 0, groupOf: String, run: async () => {} })).rejects.toBeInstanceOf(RangeError);
  });
});
