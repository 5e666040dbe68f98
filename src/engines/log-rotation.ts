import { rename, stat } from 'node:fs/promises';

/** A worker's log is rotated when it starts past this size. */
export const ROTATE_LOG_AT_BYTES = 64 * 1024 * 1024;

/**
 * Before a log file is opened for appending: when it is larger than `maxBytes`, it becomes
 * `<file>.1` (replacing an older one), so a log written by process after process keeps at most
 * two files of about `maxBytes`. Returns whether it rotated; a missing file is not an error.
 */
export async function rotateLogIfLarger(file: string, maxBytes: number = ROTATE_LOG_AT_BYTES): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (size <= maxBytes) return false;
  await rename(file, `${file}.1`);
  return true;
}
