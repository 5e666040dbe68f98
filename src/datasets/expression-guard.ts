/**
 * What a spec's Spark SQL expressions (`rules`, `partitionBy`) may not do. They run on the Spark
 * driver with the job's credentials, so a spec that could call into the JVM could read a secret
 * (`java_method('java.lang.System', 'getenv', 'AWS_SECRET_ACCESS_KEY')` into a partition folder
 * name) or stop a shared Spark Connect server (`java_method('java.lang.System', 'exit', 0)`); one
 * with a subquery could read any file the driver can (`(SELECT ... FROM text.`/path`)`).
 *
 * Refused: the reflection functions, the IDENTIFIER clause (a function named by a string), and
 * subqueries (SELECT, TABLE). Found by word, outside string literals and comments, whatever the
 * case, backquotes or qualification (`system.builtin.java_method`). The job checks the same
 * words (`spark-jobs/watcher_job/expression_guard.py`); keep both lists equal.
 */
const REFUSED: Readonly<Record<string, string>> = {
  reflect: 'calls into the JVM',
  java_method: 'calls into the JVM',
  try_reflect: 'calls into the JVM',
  identifier: 'names a function by a string (the IDENTIFIER clause)',
  select: 'holds a subquery, which can read any table or file',
  table: 'holds a subquery, which can read any table or file',
};

/** Why `expr` is refused, or undefined when it is allowed. */
export function expressionProblem(expr: string): string | undefined {
  const words = wordsOf(expr);
  if (typeof words === 'string') return words;
  for (const word of words) {
    const why = REFUSED[word];
    if (why !== undefined) {
      return `uses ${JSON.stringify(word)}, which ${why}; a spec may not use ${Object.keys(REFUSED).join(', ')}`;
    }
  }
  return undefined;
}

/** The lower-cased words (identifiers, keywords, backquoted names) of a Spark SQL expression,
 * skipping string literals and comments as Spark's lexer does; a problem string when it cannot. */
function wordsOf(expr: string): string[] | string {
  const words: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === "'" || c === '"') {
      const raw = /[rR]/u.test(expr[i - 1] ?? '') && !/[\w]/u.test(expr[i - 2] ?? '');
      const end = endOfQuoted(expr, i, c, !raw);
      if (end < 0) return 'has a string literal that does not end';
      // With ANSI double-quoted identifiers on, "java_method"(...) would be a name: count it.
      if (c === '"') words.push(expr.slice(i + 1, end - 1).toLowerCase());
      i = end;
    } else if (c === '`') {
      const end = endOfQuoted(expr, i, '`', false);
      if (end < 0) return 'has a backquoted name that does not end';
      words.push(
        expr
          .slice(i + 1, end - 1)
          .replaceAll('``', '`')
          .toLowerCase(),
      );
      i = end;
    } else if (c === '-' && expr[i + 1] === '-') {
      const end = expr.indexOf('\n', i);
      i = end < 0 ? expr.length : end + 1;
    } else if (c === '/' && expr[i + 1] === '*') {
      const end = endOfComment(expr, i);
      if (end < 0) return 'has a comment that does not end';
      i = end;
    } else if (/\w/u.test(c)) {
      let end = i;
      while (end < expr.length && /\w/u.test(expr[end]!)) end++;
      words.push(expr.slice(i, end).toLowerCase());
      i = end;
    } else {
      i++;
    }
  }
  return words;
}

/** The index after the quote that closes the one at `start` (a doubled quote stays inside). */
function endOfQuoted(text: string, start: number, quote: string, escapes: boolean): number {
  for (let i = start + 1; i < text.length; i++) {
    if (escapes && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === '`' && text[i + 1] === '`') i++;
      else return i + 1;
    }
  }
  return -1;
}

/** The index after the bracketed comment at `start`; Spark's comments nest. */
function endOfComment(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length - 1; i++) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i++;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
