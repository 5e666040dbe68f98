import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, constants as fsConstants } from 'node:fs';
import { link, mkdir, open, readFile, readdir, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PermanentError, PreconditionFailedError, UnsafeKeyError } from '../errors.js';
import { assertSafeKey, assertSafePrefix, compareKeys } from './keys.js';
import type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions, StoredObject } from './object-store.js';

/** Where in-flight writes and locks live; never listed, never a key. */
export const LOCAL_STORE_WORK_DIR = '.s3-spark-watcher-tmp';
/** A lock older than this was left by a dead process and may be broken. */
const STALE_LOCK_MS = 30_000;

/**
 * A lake in a local folder that behaves like an S3 bucket: ETag = quoted MD5 of the content,
 * writes are atomic (write to a temp file, then rename), conditional puts are honoured across
 * processes (a lock file per key), and listings come in key order. Keys can never leave the root.
 */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly description: string;
  readonly #workDir: string;
  /** MD5 is costly on big files; reuse it while size, mtime and inode are unchanged. */
  readonly #etagCache = new Map<string, { size: number; mtimeMs: number; ino: number; etag: string }>();

  constructor(root: string) {
    this.root = path.resolve(root);
    this.description = `file://${this.root}`;
    this.#workDir = path.join(this.root, LOCAL_STORE_WORK_DIR);
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    assertSafePrefix(prefix);
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
    const startDir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    await this.#walk(path.join(this.root, startDir), startDir, keys);
    const after = [options.continuationToken, options.startAfter].filter((k) => k !== undefined);
    const selected = keys.filter((k) => k.startsWith(prefix) && after.every((a) => compareKeys(k, a) > 0)).sort(compareKeys);
    // Keys are judged (`only`) in order until the page is full, so each is judged once over all pages.
    const pageKeys: string[] = [];
    let passed = 0;
    for (const key of selected) {
      if (pageKeys.length === pageSize) break;
      passed += 1;
      if (options.only === undefined || options.only(key)) pageKeys.push(key);
    }
    const objects: ObjectInfo[] = [];
    for (const key of pageKeys) {
      options.signal?.throwIfAborted();
      // Stat the file the walk found: listing shows every object, as S3 does, also one whose name
      // assertSafeKey refuses (a newline, a 1,025-byte path); reading or writing it is still refused.
      const info = await this.#info(key, path.join(this.root, ...key.split('/')));
      if (info !== undefined) objects.push(info); // deleted while we listed: S3 would not show it either
    }
    const last = pageKeys.at(-1);
    return selected.length > passed && last !== undefined ? { objects, nextToken: last } : { objects };
  }

  async #walk(dir: string, relDir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isNodeError(error, 'ENOENT') || isNodeError(error, 'ENOTDIR')) return;
      throw error;
    }
    for (const entry of entries) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      if (rel === LOCAL_STORE_WORK_DIR) continue;
      // Symbolic links are not followed: one could point outside the lake root.
      if (entry.isDirectory()) await this.#walk(path.join(dir, entry.name), rel, out);
      else if (entry.isFile()) out.push(rel);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    return this.#info(key, await this.#pathOf(key));
  }

  async #info(key: string, file: string): Promise<ObjectInfo | undefined> {
    let st;
    try {
      st = await stat(file);
    } catch (error) {
      if (isNodeError(error, 'ENOENT') || isNodeError(error, 'ENOTDIR')) return undefined;
      throw error;
    }
    if (!st.isFile()) return undefined;
    const cached = this.#etagCache.get(file);
    let etag: string;
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs && cached.ino === st.ino) {
      etag = cached.etag;
    } else {
      try {
        etag = await md5EtagOfFile(file);
      } catch (error) {
        // Deleted between the stat and the read (a marker fold removes its deltas): gone, as on S3.
        if (isNodeError(error, 'ENOENT') || isNodeError(error, 'ENOTDIR')) return undefined;
        throw error;
      }
      this.#etagCache.set(file, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, etag });
    }
    return { key, size: st.size, etag, lastModified: st.mtime };
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const file = await this.#pathOf(key);
    try {
      const body = await readFile(file);
      return { body, etag: md5Etag(body) };
    } catch (error) {
      if (isNodeError(error, 'ENOENT') || isNodeError(error, 'ENOTDIR') || isNodeError(error, 'EISDIR')) return undefined;
      throw error;
    }
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    const file = await this.#pathOf(key);
    options.signal?.throwIfAborted();
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    if (key.endsWith('/')) {
      // A folder marker: a directory here, and no object.
      await mkdir(file, { recursive: true });
      return { etag: md5Etag(Buffer.alloc(0)) };
    }
    const write = async (): Promise<{ etag: string }> => {
      if (options.ifMatch !== undefined || options.ifNoneMatch !== undefined) {
        const current = await this.head(key);
        if (options.ifNoneMatch === '*' && current !== undefined) {
          throw new PreconditionFailedError(key, `conditional write of ${key} failed: the object already exists`);
        }
        if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) {
          throw new PreconditionFailedError(key);
        }
      }
      await this.#atomicWrite(key, file, data);
      return { etag: md5Etag(data) };
    };
    return options.ifMatch !== undefined || options.ifNoneMatch !== undefined ? this.#withKeyLock(key, write) : write();
  }

  async delete(key: string): Promise<void> {
    const file = await this.#pathOf(key);
    await rm(file, { force: true });
    this.#etagCache.delete(file);
  }

  /**
   * The file of a key. assertSafeKey refuses every textual way out of the root; a symbolic link
   * inside the lake could still lead out, so the nearest existing ancestor is resolved and checked.
   */
  async #pathOf(key: string): Promise<string> {
    assertSafeKey(key);
    const file = path.resolve(this.root, ...key.split('/').filter((s) => s !== ''));
    const rootReal = await realpath(this.root).catch(() => this.root);
    for (let p = file; ; p = path.dirname(p)) {
      // Above the root: the root itself does not exist yet, so no link inside it can lead out.
      const inRoot = path.relative(this.root, p);
      if (inRoot.startsWith('..') || path.isAbsolute(inRoot)) return file;
      const real = await realpath(p).catch(() => undefined);
      if (real !== undefined) {
        const rel = path.relative(rootReal, real);
        if (rel.startsWith('..') || path.isAbsolute(rel)) {
          throw new UnsafeKeyError(`key ${JSON.stringify(key)} resolves outside the lake root ${this.root} (through a symbolic link)`);
        }
        return file;
      }
    }
  }

  async #atomicWrite(key: string, file: string, data: Buffer): Promise<void> {
    await mkdir(this.#workDir, { recursive: true });
    const tmp = path.join(this.#workDir, `${randomBytes(8).toString('hex')}.part`);
    await writeFile(tmp, data);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await rename(tmp, file);
    } catch (error) {
      await rm(tmp, { force: true });
      if (isNodeError(error, 'ENOTDIR') || isNodeError(error, 'EEXIST') || isNodeError(error, 'EISDIR')) {
        throw new PermanentError(
          `cannot store ${JSON.stringify(key)} in the local lake: a file and a folder would share a path (S3 allows this, a file system does not)`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Serialises conditional writes of one key across processes with an exclusive lock file. */
  async #withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await mkdir(this.#workDir, { recursive: true });
    const lock = path.join(this.#workDir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.lock`);
    const deadline = Date.now() + 2 * STALE_LOCK_MS;
    for (;;) {
      try {
        const handle = await open(lock, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY);
        await handle.writeFile(`${process.pid}\n${randomBytes(8).toString('hex')}\n`);
        await handle.close();
        break;
      } catch (error) {
        if (!isNodeError(error, 'EEXIST')) throw error;
        // What the lock says, then how old it is: a lock replaced in between reads as fresh.
        const held = await readFile(lock, 'utf8').catch(() => undefined);
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (held !== undefined && age > STALE_LOCK_MS) await breakStaleLock(lock, held);
        else if (Date.now() > deadline) throw new PreconditionFailedError(key, `timed out waiting for the write lock of ${key}`);
        // A lock is held for one small write; retry soon, with jitter so writers don't march in step.
        else await delay(2 + Math.random() * 8);
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }
}

/**
 * Removes the lock file `lock` if it is still the one judged stale (its content `held`: a pid and
 * a random token per acquisition). Another writer may have broken that lock and taken a fresh one
 * since it was judged, so the lock is moved aside first (a rename is atomic), and put back with a
 * link (which never replaces a file) when what was moved is not the stale one. Only a writer that
 * takes the lock in the instant it is aside slips through: a stale lock and three writers of one key
 * at that moment.
 */
async function breakStaleLock(lock: string, held: string): Promise<void> {
  const aside = `${lock}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(lock, aside);
  } catch (error) {
    if (isNodeError(error, 'ENOENT')) return; // broken by another writer, or released
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== held) await link(aside, lock).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

export function md5Etag(data: Buffer): string {
  return `"${createHash('md5').update(data).digest('hex')}"`;
}

/** The ETag of a file, read as a stream: a whole-file read fails over 2 GiB (Node's buffer limit). */
async function md5EtagOfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `"${hash.digest('hex')}"`;
}

function isNodeError(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
