/**
 * The EMR Serverless releases the job is tested on, one family per Spark line. The job code is
 * kept Python 3.9-clean (ruff's py39 target, and the emr-7.x rehearsal runs it on a real Python 3.9
 * with PySpark 3.5: see rehearsal-runtimes.ts), so every family runs it on the release's default
 * Python: nothing to select, and nothing that breaks when an account's application uses EMR's defaults.
 */
export interface ReleaseFamily {
  /** How the README and errors name it: `emr-7.x`. */
  readonly name: string;
  /** Matches the application's `releaseLabel`. */
  readonly label: RegExp;
  /** The Spark line the release runs. */
  readonly sparkLine: string;
  /** The Pythons the release ships, as the README states them (the first is the oldest). */
  readonly pythons: string;
  /** The Python the rehearsal runs this family's job on: the oldest the release may use by default. */
  readonly rehearsalPython: string;
  /** Minor versions of Python the release ships: a rehearsal on the project's own .venv may use any of them. */
  readonly shippedPythons: readonly string[];
  /** A label of this family to suggest in errors and docs. */
  readonly example: string;
}

export const RELEASE_FAMILIES: readonly ReleaseFamily[] = [
  {
    name: 'emr-7.x',
    label: /^emr-7\.\d+\.\d+$/u,
    sparkLine: '3.5',
    pythons: '3.9 by default; 3.11 too from emr-7.1.0 (selected with PYSPARK_PYTHON)',
    rehearsalPython: '3.9',
    shippedPythons: ['3.9', '3.11'],
    example: 'emr-7.12.0',
  },
  {
    name: 'emr-spark-8.x',
    label: /^emr-spark-8\.\d+\.\d+$/u,
    sparkLine: '4.0',
    pythons: '3.11, 3.12 and 3.13',
    rehearsalPython: '3.11',
    shippedPythons: ['3.11', '3.12', '3.13'],
    example: 'emr-spark-8.0.0',
  },
];

/** The family of a release label, or undefined when the job is not supported there. */
export function releaseFamilyOf(releaseLabel: string | undefined): ReleaseFamily | undefined {
  if (releaseLabel === undefined) return undefined;
  return RELEASE_FAMILIES.find((f) => f.label.test(releaseLabel));
}

/** One sentence naming the supported families, for errors. */
export function supportedReleasesText(): string {
  return RELEASE_FAMILIES.map((f) => `${f.name} (Spark ${f.sparkLine}, e.g. ${f.example})`).join(' or ');
}
