import { execa } from 'execa';

/** A child started in its own process group, so the whole tree (spark-submit → JVM → Python) can be stopped. */
export interface SpawnedProcess {
  readonly pid: number | undefined;
  /** Settles when the child exits; never rejects. */
  readonly exited: Promise<ProcessExit>;
}

export interface ProcessExit {
  readonly exitCode?: number | undefined;
  readonly signal?: string | undefined;
  /** Set when the process could not start at all (ENOENT, EACCES). */
  readonly startError?: string | undefined;
}

export interface SpawnOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** stdout and stderr are both appended to this file. */
  readonly outputFile: string;
}

export type SpawnFn = (file: string, args: readonly string[], options: SpawnOptions) => SpawnedProcess;

/** The default SpawnFn: execa with an argument array (never a shell), detached into a new process group. */
export const spawnProcessGroup: SpawnFn = (file, args, options) => {
  const child = execa(file, [...args], {
    env: { ...options.env },
    extendEnv: false,
    cwd: options.cwd,
    detached: true,
    cleanup: false,
    stdin: 'ignore',
    stdout: { file: options.outputFile, append: true },
    stderr: { file: options.outputFile, append: true },
    reject: false,
  });
  return {
    pid: child.pid,
    exited: child.then(
      (r) => ({
        exitCode: r.exitCode,
        signal: r.signal,
        startError: r.failed && r.exitCode === undefined && r.signal === undefined ? r.shortMessage : undefined,
      }),
      (error: unknown) => ({ startError: String(error) }),
    ),
  };
};

/** Sends a signal to a whole process group; a group that is already gone is not an error. */
export function signalProcessGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
