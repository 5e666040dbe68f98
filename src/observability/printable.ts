/**
 * Text from outside (object keys, ETags, error messages from S3 or Spark) made safe to print to a
 * terminal or a log: control characters (C0 but tab and newline, DEL, C1) and the bidirectional
 * overrides that reorder what a reader sees become `\uXXXX`. A key holding `ESC [ 2 J` or a
 * carriage return cannot clear a screen or overwrite a line of `status`, and in JSON the
 * escape reads back as the same character.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
