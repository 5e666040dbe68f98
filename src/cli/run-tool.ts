import { execa } from 'execa';
import { PrerequisiteError } from '../errors.js';

export interface RunToolOptions {
  readonly env: Readonly<Record<string, string>>;
  /** Quiet: output is kept and its last lines shown only on failure; else it goes to the terminal (pip's and Maven's progress). */
  readonly quiet: boolean;
}

/** Runs an installer step (pip, mvn) with an argument array; a failure is a PrerequisiteError naming the step. */
export async function runTool(file: string, args: readonly string[], what: string, options: RunToolOptions): Promise<void> {
  const stdio = options.quiet ? 'pipe' : 'inherit';
  const result = await execa(file, [...args], {
    env: { ...options.env },
    extendEnv: false,
    stdin: 'ignore',
    stdout: stdio,
    stderr: stdio,
    reject: false,
  });
  if (!result.failed) return;
  const output = options.quiet
    ? `\n${`${String(result.stdout ?? '')}\n${String(result.stderr ?? '')}`.trim().split('\n').slice(-15).join('\n')}`
    : '';
  throw new PrerequisiteError(`${what} failed (${result.shortMessage}).${output}`);
}
