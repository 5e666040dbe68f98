import { execa } from 'execa';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import path from 'node:path';
import { VENV_DIR } from '../../src/config/project-paths.js';
import { venvPython } from './python.js';

export interface MotoServer {
  readonly endpoint: string;
  /** A client with moto's dummy credentials, path-style, for setting up and checking tests. */
  readonly s3: S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real moto server (S3, SQS, EMR Serverless APIs) on a free loopback port, from the
 * project's venv, and waits until it says where it listens.
 */
export async function startMotoServer(env: Record<string, string> = {}): Promise<MotoServer> {
  venvPython(); // says how to make the venv when it is missing
  const child = execa(path.join(VENV_DIR, 'bin', 'moto_server'), ['-H', '127.0.0.1', '-p', '0'], {
    env,
    stdin: 'ignore',
    reject: false,
    cleanup: true,
    buffer: false,
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`moto_server did not start within 30 s:\n${seen}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/u.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void child.then((r) => {
      clearTimeout(timer);
      reject(new Error(`moto_server exited (${r.exitCode}):\n${seen}`));
    });
  });
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  return {
    endpoint,
    s3,
    createBucket: async (name) => {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      s3.destroy();
      child.kill('SIGTERM');
      await child;
    },
  };
}
