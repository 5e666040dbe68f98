import { parseArgs } from 'node:util';
import { MarkerCorruptError, PreconditionFailedError } from '../../errors.js';
import { MARKER_KEY, MarkerStore } from '../../state/marker.js';
import { listDeltaSeqs } from '../../state/marker-deltas.js';
import { rebuildMarker } from '../../state/marker-rebuild.js';
import { type CommandContext, configFrom, writeLine } from '../context.js';
import { createStore } from '../wiring.js';

export const markerHelp = `marker rebuild [--force] [--dry-run]
                rebuild ${MARKER_KEY} from the run reports in metadata/runs/: for each key in raw/,
                its version is processed if a run of it succeeded. A valid marker is replaced only
                with --force; the old one (valid or not) is kept as ${MARKER_KEY}.bak-<time>.
                Stop the watcher first.`;

export async function markerCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...ctx.args],
    options: { force: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || positionals[0] !== 'rebuild') {
    writeLine(ctx.stderr, 's3-spark-watcher marker: usage: marker rebuild [--force] [--dry-run]');
    return 2;
  }
  const store = await createStore(configFrom(ctx));
  const old = await store.get(MARKER_KEY);
  // The marker's updates not yet folded into it: the rebuilt document covers them (foldedThrough).
  const deltas = await listDeltaSeqs(store);
  let oldState = 'none';
  if (old !== undefined || deltas.length > 0) {
    try {
      oldState = `valid, ${Object.keys((await new MarkerStore(store).load()).document.files).length} entries`;
    } catch (error) {
      if (!(error instanceof MarkerCorruptError)) throw error;
      oldState = 'not a valid marker';
    }
  }
  const rebuilt = await rebuildMarker(store);
  const entries = Object.keys(rebuilt.document.files).length;
  writeLine(
    ctx.stdout,
    `run reports: ${rebuilt.reports} (${rebuilt.succeeded} succeeded, ${rebuilt.unreadable} unreadable); ` +
      `rebuilt marker: ${entries} processed versions in raw/; current marker: ${oldState}`,
  );
  if (values['dry-run']) return 0;
  if (oldState.startsWith('valid') && !values.force) {
    writeLine(ctx.stderr, `s3-spark-watcher marker: ${MARKER_KEY} is valid; pass --force to replace it (it is kept as a .bak file).`);
    return 2;
  }
  if (old !== undefined) {
    const backup = `${MARKER_KEY}.bak-${new Date().toISOString().replace(/[:.]/gu, '')}`;
    await store.put(backup, old.body, { ifNoneMatch: '*', contentType: 'application/json' });
    writeLine(ctx.stdout, `kept the old marker as ${backup}`);
  }
  try {
    const document = deltas.length > 0 ? { ...rebuilt.document, foldedThrough: deltas.at(-1) } : rebuilt.document;
    await store.put(MARKER_KEY, `${JSON.stringify(document, null, 1)}\n`, {
      ...(old === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: old.etag }),
      contentType: 'application/json',
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    writeLine(
      ctx.stderr,
      `s3-spark-watcher marker: ${MARKER_KEY} changed while it was rebuilt (a watcher is running?); stop it and try again.`,
    );
    return 1;
  }
  writeLine(ctx.stdout, `wrote ${MARKER_KEY}: ${entries} processed versions`);
  return 0;
}
