import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PreconditionFailedError } from '../errors.js';
import { assertSafeKey, assertSafePrefix } from './keys.js';
import type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions, StoredObject } from './object-store.js';
import { isNotFound, mapS3Error } from './s3-errors.js';

export interface S3ObjectStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** The lake's prefix inside the bucket: '' or `some/prefix/`. Keys are relative to it. */
  readonly prefix?: string;
}

/** The lake in an S3 bucket (or an S3-compatible server): the ObjectStore seam on AWS SDK v3. */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3ObjectStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? '';
    if (this.#prefix !== '' && !this.#prefix.endsWith('/'))
      throw new TypeError(`prefix must end with "/", got ${JSON.stringify(this.#prefix)}`);
    this.description = `s3://${this.#bucket}/${this.#prefix}`;
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    assertSafePrefix(prefix);
    const where = `listing ${this.description}${prefix}`;
    try {
      const out = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix + prefix,
          MaxKeys: options.pageSize ?? 1000,
          ...(options.continuationToken !== undefined ? { ContinuationToken: options.continuationToken } : {}),
          ...(options.startAfter !== undefined ? { StartAfter: this.#prefix + options.startAfter } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const listed: ObjectInfo[] = (out.Contents ?? []).map((o) => ({
        key: (o.Key ?? '').slice(this.#prefix.length),
        size: o.Size ?? 0,
        etag: o.ETag ?? '',
        lastModified: o.LastModified ?? new Date(0),
      }));
      const { only } = options;
      const objects = only === undefined ? listed : listed.filter((o) => only(o.key));
      return out.IsTruncated && out.NextContinuationToken ? { objects, nextToken: out.NextContinuationToken } : { objects };
    } catch (error) {
      throw mapS3Error(error, where, prefix, 's3:ListBucket');
    }
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    assertSafeKey(key);
    try {
      const out = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
        signal ? { abortSignal: signal } : {},
      );
      return { key, size: out.ContentLength ?? 0, etag: out.ETag ?? '', lastModified: out.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw mapS3Error(error, `reading ${this.description}${key}`, key, 's3:GetObject');
    }
  }

  async get(key: string, signal?: AbortSignal): Promise<StoredObject | undefined> {
    assertSafeKey(key);
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
        signal ? { abortSignal: signal } : {},
      );
      const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      return { body, etag: out.ETag ?? '' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw mapS3Error(error, `reading ${this.description}${key}`, key, 's3:GetObject');
    }
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    assertSafeKey(key);
    try {
      const out = await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#prefix + key,
          Body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
          ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
          ...(options.ifMatch !== undefined ? { IfMatch: options.ifMatch } : {}),
          ...(options.ifNoneMatch !== undefined ? { IfNoneMatch: options.ifNoneMatch } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      // S3 answers If-Match on a missing key with 404: for the caller that is a lost condition.
      if (options.ifMatch !== undefined && isNotFound(error)) {
        throw new PreconditionFailedError(key, `conditional write of ${key} failed: the object is gone`, { cause: error });
      }
      throw mapS3Error(error, `writing ${this.description}${key}`, key, 's3:PutObject');
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    assertSafeKey(key);
    try {
      await this.#client.send(
        new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (error) {
      throw mapS3Error(error, `deleting ${this.description}${key}`, key, 's3:DeleteObject');
    }
  }
}
