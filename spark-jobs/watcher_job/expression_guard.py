"""What a spec's Spark SQL expressions (`rules`, `partitionBy`) may not do.

They run on the Spark driver with the job's credentials, so a spec that could call into the JVM
could read a secret (`java_method('java.lang.System', 'getenv', 'AWS_SECRET_ACCESS_KEY')` into a
partition folder name) or stop a shared Spark Connect server (`java_method('java.lang.System',
'exit', 0)`); one with a subquery could read any file the driver can.

Refused: the reflection functions, the IDENTIFIER clause (a function named by a string), and
subqueries (SELECT, TABLE). Found by word, outside string literals and comments, whatever the
case, backquotes or qualification (`system.builtin.java_method`). The controller checks the same
words (`src/datasets/expression-guard.ts`); keep both lists equal.
"""

from __future__ import annotations

import re

REFUSED = {
    "reflect": "calls into the JVM",
    "java_method": "calls into the JVM",
    "try_reflect": "calls into the JVM",
    "identifier": "names a function by a string (the IDENTIFIER clause)",
    "select": "holds a subquery, which can read any table or file",
    "table": "holds a subquery, which can read any table or file",
}
_WORD = re.compile(r"\w", re.ASCII)  # as in the TypeScript check


def expression_problem(expr: str) -> str | None:
    """Why `expr` is refused, or None when it is allowed."""
    words = _words(expr)
    if isinstance(words, str):
        return words
    for word in words:
        if word in REFUSED:
            return f"uses {word!r}, which {REFUSED[word]}; a spec may not use {', '.join(REFUSED)}"
    return None


def _words(expr: str) -> list[str] | str:
    """The lower-cased words (identifiers, keywords, backquoted names) of a Spark SQL expression,
    skipping string literals and comments as Spark's lexer does; a problem string when it cannot."""
    words: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "'\"":
            raw = i >= 1 and expr[i - 1] in "rR" and not (i >= 2 and _WORD.match(expr[i - 2]))
            end = _end_of_quoted(expr, i, c, escapes=not raw)
            if end < 0:
                return "has a string literal that does not end"
            if c == '"':  # with ANSI double-quoted identifiers on, "java_method"(...) is a name
                words.append(expr[i + 1 : end - 1].lower())
            i = end
        elif c == "`":
            end = _end_of_quoted(expr, i, "`", escapes=False)
            if end < 0:
                return "has a backquoted name that does not end"
            words.append(expr[i + 1 : end - 1].replace("``", "`").lower())
            i = end
        elif expr.startswith("--", i):
            end = expr.find("\n", i)
            i = n if end < 0 else end + 1
        elif expr.startswith("/*", i):
            end = _end_of_comment(expr, i)
            if end < 0:
                return "has a comment that does not end"
            i = end
        elif _WORD.match(c):
            end = i
            while end < n and _WORD.match(expr[end]):
                end += 1
            words.append(expr[i:end].lower())
            i = end
        else:
            i += 1
    return words


def _end_of_quoted(text: str, start: int, quote: str, *, escapes: bool) -> int:
    """The index after the quote that closes the one at `start` (a doubled backquote stays inside)."""
    i = start + 1
    while i < len(text):
        if escapes and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "`" and text.startswith("``", i):
                i += 2
                continue
            return i + 1
        i += 1
    return -1


def _end_of_comment(text: str, start: int) -> int:
    """The index after the bracketed comment at `start`; Spark's comments nest."""
    depth, i = 0, start
    while i < len(text) - 1:
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return -1
