/** Scrapes a Prometheus text exposition into `name{label="v",...}` -> value, labels sorted, `engine` dropped. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return parseExposition(await res.text());
}

export function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/u.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/gu)]
      .filter(([, k]) => k !== 'engine')
      .map(([, k, v]) => `${k}="${v}"`)
      .sort();
    values.set(labels.length ? `${m[1]}{${labels.join(',')}}` : (m[1] ?? ''), Number(m[3]));
  }
  return values;
}
