import { readFile, readdir } from 'node:fs/promises';

/**
 * What the kernel says about processes, read from /proc (Linux). Used to tell a live controller
 * from a dead one whose pid was reused, and to find the members of a job's process group.
 * Where there is no /proc, `available()` is false and callers do nothing they cannot check.
 */
export class ProcessTable {
  readonly #root: string;

  constructor(procRoot = '/proc') {
    this.#root = procRoot;
  }

  async available(): Promise<boolean> {
    return (await this.startTime(process.pid)) !== undefined;
  }

  /** The process's start time in clock ticks since boot (stat field 22); undefined when it does not exist (or is a zombie). */
  async startTime(pid: number): Promise<string | undefined> {
    const stat = await this.#stat(pid);
    return stat === undefined || stat.state === 'Z' ? undefined : stat.startTime;
  }

  /** Live members of a process group, each with its command line (arguments joined by spaces). */
  async groupMembers(pgid: number): Promise<Array<{ readonly pid: number; readonly args: string }>> {
    let entries: string[];
    try {
      entries = await readdir(this.#root);
    } catch {
      return [];
    }
    const members: Array<{ pid: number; args: string }> = [];
    for (const entry of entries) {
      if (!/^\d+$/u.test(entry)) continue;
      const pid = Number(entry);
      const stat = await this.#stat(pid);
      if (stat === undefined || stat.state === 'Z' || stat.pgrp !== pgid) continue;
      const cmdline = await readFile(`${this.#root}/${pid}/cmdline`, 'utf8').catch(() => '');
      members.push({ pid, args: cmdline.split('\0').join(' ').trim() });
    }
    return members;
  }

  async #stat(pid: number): Promise<{ state: string; pgrp: number; startTime: string } | undefined> {
    let text: string;
    try {
      text = await readFile(`${this.#root}/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses, so split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const [state, , pgrp] = fields;
    const startTime = fields[19];
    if (state === undefined || pgrp === undefined || startTime === undefined) return undefined;
    return { state, pgrp: Number(pgrp), startTime };
  }
}
