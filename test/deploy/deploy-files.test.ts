import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { VENV_DIR } from '../../src/config/project-paths.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { parseExposition } from '../helpers/prometheus.js';
import { venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The service files in deploy/, checked with the tools their platforms use where this machine has
 * them: systemd-analyze for the unit, plistlib (plutil's parser) for the launchd plist, a YAML
 * parser for the manifests and rules, hadolint for the Dockerfile. In CI (CI=true) a missing tool
 * is a failure (.ci/run installs them); elsewhere its check is skipped.
 */
const inCi = process.env['CI'] === 'true';
const onPath = async (tool: string): Promise<boolean> =>
  (await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false })).exitCode === 0;
const HADOLINT = path.join(VENV_DIR, 'bin', 'hadolint');

type Yaml = Record<string, unknown>;
const yamlDocs = async (file: string): Promise<Yaml[]> => {
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  for (const d of docs) expect(d.errors, `${file}: ${d.errors.map((e) => e.message).join('; ')}`).toEqual([]);
  return docs.map((d) => d.toJS() as Yaml);
};

describe('deploy/systemd', async () => {
  const unitPath = 'deploy/systemd/s3-spark-watcher.service';
  const hasAnalyze = await onPath('systemd-analyze');

  it.skipIf(!hasAnalyze && !inCi)('passes systemd-analyze verify without a warning', async () => {
    // Verified as it would be installed here: at /etc/systemd/system, running this machine's node.
    let unit = await readFile(unitPath, 'utf8');
    if (!existsSync('/usr/bin/node')) unit = unit.replace('/usr/bin/node', process.execPath);
    const dir = await tempDir();
    const file = path.join(dir, 's3-spark-watcher.service');
    await writeFile(file, unit);
    const result = await execa('systemd-analyze', ['verify', file], { reject: false, all: true });
    expect(result.all).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it('runs `watch` as a dedicated user, restarts on failure, reads an env file, and is hardened', async () => {
    const unit = await readFile(unitPath, 'utf8');
    const settings = new Map(
      unit
        .split('\n')
        .filter((l) => /^\w+=/u.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(settings.get('User')).toBe('s3sw');
    expect(settings.get('Restart')).toBe('on-failure');
    expect(settings.get('EnvironmentFile')).toBe('/etc/s3-spark-watcher/watcher.env');
    expect(settings.get('ExecStart')).toMatch(/ \/opt\/s3-spark-watcher\/bin\/s3-spark-watcher\.js watch$/u);
    for (const [k, v] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
    ]) {
      expect(settings.get(k ?? ''), k).toBe(v);
    }
  });
});

describe('deploy/launchd', () => {
  it('parses as a property list (plistlib) and keeps `watch` alive after a failure', async () => {
    const { stdout } = await execa(venvPython(), [
      '-c',
      'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))',
      'deploy/launchd/com.example.s3-spark-watcher.plist',
    ]);
    const plist = JSON.parse(stdout) as Record<string, unknown>;
    expect(plist).toMatchObject({
      Label: 'com.example.s3-spark-watcher',
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      EnvironmentVariables: { LOG_FORMAT: 'json' },
    });
    expect((plist['ProgramArguments'] as string[]).slice(-2)).toEqual(['/usr/local/opt/s3-spark-watcher/bin/s3-spark-watcher.js', 'watch']);
    expect(plist['WorkingDirectory']).toBe('/Users/Shared/s3-spark-watcher');
  });
});

describe('deploy/kubernetes', () => {
  it('parses, and probes the health endpoints on the port the watcher serves them on', async () => {
    const docs = await yamlDocs('deploy/kubernetes/deployment.yaml');
    expect(docs.map((d) => d['kind'])).toEqual(['Deployment', 'ServiceAccount', 'Service']);
    const pod = (docs[0] as { spec: { template: { spec: Yaml } } }).spec.template.spec;
    const [container] = pod['containers'] as Yaml[];
    const env = new Map((container?.['env'] as { name: string; value: string }[]).map((e) => [e.name, e.value]));
    const ports = container?.['ports'] as { name: string; containerPort: number }[];
    expect(ports).toEqual([{ name: 'metrics', containerPort: Number(env.get('METRICS_PORT')) }]);
    expect(env.get('METRICS_HOST')).toBe('0.0.0.0');
    expect(container?.['livenessProbe']).toMatchObject({ httpGet: { path: '/healthz', port: 'metrics' } });
    expect(container?.['readinessProbe']).toMatchObject({ httpGet: { path: '/readyz', port: 'metrics' } });
    expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container?.['securityContext']).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });
});

describe('deploy/prometheus', () => {
  it('parses, has the two alerts, and names only metrics the watcher exports', async () => {
    const [rules] = await yamlDocs('deploy/prometheus/alerts.yaml');
    const list = (rules as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    expect(list.map((r) => r.alert)).toEqual(expect.arrayContaining(['S3SparkWatcherNoSuccessfulPass', 'S3SparkWatcherDeadLettersRising']));
    const exported = new Set(
      [...parseExposition(await new WatcherMetrics({ engine: 'local', passIntervalMs: 60_000 }).text()).keys()].map((k) => k.split('{')[0]),
    );
    for (const r of list) {
      const names = r.expr.match(/\bs3sw_\w+/gu) ?? [];
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${r.alert}: ${name}`).toBe(true);
    }
  });
});

describe('deploy/docker', () => {
  it.skipIf(!existsSync(HADOLINT) && !inCi)('passes hadolint', async () => {
    const result = await execa(HADOLINT, ['--config', 'deploy/docker/.hadolint.yaml', 'deploy/docker/Dockerfile'], {
      reject: false,
      all: true,
    });
    expect(result.all).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it('has a slim emr-serverless target and a local one, each ending as a non-root user', async () => {
    const lines = (await readFile('deploy/docker/Dockerfile', 'utf8')).split('\n');
    const stages: { name: string; user?: string }[] = [];
    for (const line of lines) {
      const from = /^FROM \S+ AS (\S+)$/u.exec(line);
      if (from?.[1]) stages.push({ name: from[1] });
      const user = /^USER (\S+)$/u.exec(line);
      if (user?.[1] && stages.length > 0) (stages.at(-1) as { user?: string }).user = user[1];
    }
    expect(stages.map((s) => s.name)).toEqual(['build', 'emr-serverless', 'local']);
    for (const s of stages.slice(1)) expect(s.user, s.name).toBe('1000:1000');
    const emr = lines.slice(
      lines.findIndex((l) => l.includes('AS emr-serverless')),
      lines.findIndex((l) => l.includes('AS local')),
    );
    expect(emr.join('\n')).toContain('ENGINE=emr-serverless');
    // An init as PID 1 reaps the zombies of killed job trees and forwards signals; `local` inherits it.
    expect(emr.find((l) => l.startsWith('ENTRYPOINT'))).toBe('ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/s3-spark-watcher.js"]');
    expect(lines.filter((l) => l.startsWith('ENTRYPOINT'))).toHaveLength(1);
    expect(emr.join('\n')).not.toMatch(/openjdk|pyspark|setup/u);
  });

  it('builds from a context that excludes everything but what the COPY lines take', async () => {
    const dockerfile = await readFile('deploy/docker/Dockerfile', 'utf8');
    const ignore = (await readFile('deploy/docker/Dockerfile.dockerignore', 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const included = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/u, ''));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gmu)].flatMap((m) => (m[1] ?? '').split(' '));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(
        included.some((i) => source === i || source.startsWith(`${i}/`)),
        `${source} is in the build context`,
      ).toBe(true);
      expect(existsSync(source), `${source} exists`).toBe(true);
    }
  });
});
