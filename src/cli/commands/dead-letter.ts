import { parseArgs } from 'node:util';
import { DEAD_LETTER_KEY, type DeadLetterEntry, DeadLetterStore } from '../../state/dead-letters.js';
import { type CommandContext, configFrom, writeLine } from '../context.js';
import { createStore } from '../wiring.js';

export const deadLetterHelp = `dead-letter list [--json]
                the versions that failed for good (${DEAD_LETTER_KEY}): key, ETag, attempts, why, when;
                and the versions still being retried; --json adds the tail of each driver log
  dead-letter replay <key>... | --all
                forget those dead letters and their attempts, so the next pass runs the versions again;
                exit 1 when a named key was not dead-lettered (the others are replayed all the same)`;

const USAGE = 'usage: dead-letter list [--json] | dead-letter replay <key>... | dead-letter replay --all';

export async function deadLetterCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...ctx.args],
    options: { json: { type: 'boolean', default: false }, all: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [action, ...keys] = positionals;
  if (action === 'list' && keys.length === 0 && !values.all) return list(ctx, values.json);
  if (action === 'replay' && !values.json && (values.all ? keys.length === 0 : keys.length > 0)) {
    return replay(ctx, values.all ? 'all' : keys);
  }
  writeLine(ctx.stderr, `s3-spark-watcher dead-letter: ${USAGE}`);
  return 2;
}

async function open(ctx: CommandContext): Promise<{ deadLetters: DeadLetterStore; description: string }> {
  const store = await createStore(configFrom(ctx));
  return { deadLetters: new DeadLetterStore(store), description: store.description };
}

async function list(ctx: CommandContext, json: boolean): Promise<number> {
  const { deadLetters, description } = await open(ctx);
  const { document } = await deadLetters.load();
  const entries = Object.values(document.deadLetters).sort(
    (a, b) => a.deadLetteredAt.localeCompare(b.deadLetteredAt) || a.key.localeCompare(b.key),
  );
  const retrying = Object.entries(document.attempts)
    .map(([key, record]) => ({ key, ...record }))
    .sort((a, b) => a.key.localeCompare(b.key));
  if (json) {
    writeLine(ctx.stdout, JSON.stringify({ lake: description, deadLetters: entries, retrying }));
    return 0;
  }
  writeLine(ctx.stdout, `lake ${description}: ${entries.length} dead-lettered version(s) in ${DEAD_LETTER_KEY}`);
  for (const e of entries) writeLine(ctx.stdout, describeEntry(e));
  if (entries.length > 0) writeLine(ctx.stdout, 'replay with: s3-spark-watcher dead-letter replay <key>... (or --all)');
  for (const r of retrying) {
    const last = r.lastFailure ? `, last failure: ${r.lastFailure.errorClass}: ${r.lastFailure.message}` : '';
    writeLine(
      ctx.stdout,
      `being retried: ${r.key} (ETag ${r.etag}, ${r.attempts} attempt(s) started, the last at ${r.lastAttemptAt}${last})`,
    );
  }
  return 0;
}

async function replay(ctx: CommandContext, keys: readonly string[] | 'all'): Promise<number> {
  const { deadLetters } = await open(ctx);
  const { replayed, notDeadLettered } = await deadLetters.replay(keys);
  for (const e of replayed) writeLine(ctx.stdout, `replayed ${e.key} (ETag ${e.etag}); the next pass runs it`);
  for (const key of notDeadLettered) writeLine(ctx.stderr, `not dead-lettered, nothing to replay: ${key}`);
  if (keys === 'all' && replayed.length === 0) writeLine(ctx.stdout, 'no dead letters to replay');
  return notDeadLettered.length > 0 ? 1 : 0;
}

function describeEntry(e: DeadLetterEntry): string {
  return [
    `✘ ${e.key}`,
    `    ETag ${e.etag}, ${e.attempts} attempt(s), dead-lettered ${e.deadLetteredAt}, run ${e.runId}`,
    `    ${e.errorClass}: ${e.message}`,
  ].join('\n');
}
