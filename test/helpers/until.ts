import { setTimeout as delay } from 'node:timers/promises';

/** Polls a condition every 25 ms until it holds, failing after a deadline: wait on state, not on time. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await delay(25);
  }
}
