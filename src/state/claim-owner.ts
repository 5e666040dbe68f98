import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who holds a claim: `host/pid/random/scope`. `scope` names the process table the pid belongs to
 * (a hash of the boot id and the pid namespace on Linux): two replicas with one hostname (host
 * networking, a fixed `hostname:`) are each pid 1 of their own container, and only a pid of the
 * same table, in the same boot, can be checked with a signal.
 */
export function defaultOwner(scope: string = processScope()): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}/${scope}`;
}

/**
 * This process's pid namespace in this boot, as 12 hex digits (`/proc/sys/kernel/random/boot_id`
 * and `/proc/self/ns/pid`); elsewhere (no /proc: macOS, Windows, where processes share one table)
 * the platform's name.
 */
export function processScope(
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
  link: (path: string) => string = readlinkSync,
): string {
  let boot: string;
  let namespace: string;
  try {
    boot = read('/proc/sys/kernel/random/boot_id').trim();
    namespace = link('/proc/self/ns/pid');
  } catch {
    return process.platform;
  }
  return createHash('sha256').update(`${boot}\n${namespace}`).digest('hex').slice(0, 12);
}

/**
 * True when `owner` ran in this process's table (same host and scope, see `defaultOwner`) and is
 * certainly not running now: its pid is free, or it is this process's pid with another random
 * part (an earlier process of this table, e.g. a controller restarted in the same container).
 * Another table (another container, another boot, or an owner written before scopes, with three
 * parts) cannot be checked: not gone, its claim waits for its TTL. So does a pid taken by some
 * other process.
 */
export function goneFromThisHost(owner: string, self: string): boolean {
  const [host, pid, random, scope, ...rest] = owner.split('/');
  const [selfHost, selfPid, , selfScope] = self.split('/');
  if (rest.length > 0 || random === undefined || scope === undefined || scope !== selfScope) return false;
  if (host !== selfHost || pid === undefined || !/^\d+$/u.test(pid)) return false;
  if (pid === selfPid) return owner !== self;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
