/** Test helpers: fetch a /metrics page and read samples out of the Prometheus text format. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export class Scrape {
  constructor(readonly samples: Sample[]) {}

  static async from(url: string): Promise<Scrape> {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
    return new Scrape(parseMetrics(await res.text()));
  }

  /** Samples of `name` whose labels include `labels`. */
  all(name: string, labels: Record<string, string | number> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)));
  }

  /** The one sample of `name` with these labels (throws when there is none). */
  value(name: string, labels: Record<string, string | number> = {}): number {
    const found = this.all(name, labels);
    if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
    return found[0]!.value;
  }

  /** The value, or 0 when the series does not exist yet. */
  valueOr0(name: string, labels: Record<string, string | number> = {}): number {
    return this.all(name, labels).length === 0 ? 0 : this.value(name, labels);
  }

  sum(name: string, labels: Record<string, string | number> = {}): number {
    return this.all(name, labels).reduce((n, s) => n + s.value, 0);
  }
}
