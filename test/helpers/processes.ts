import { execa } from 'execa';

/** Live processes (not zombies) whose command line contains `text`, e.g. a run id. */
export async function processesMentioning(text: string): Promise<string[]> {
  const { stdout } = await execa('ps', ['-eo', 'stat=,args=']);
  return stdout.split('\n').filter((line) => !line.trimStart().startsWith('Z') && line.includes(text) && !line.includes('ps -eo'));
}
