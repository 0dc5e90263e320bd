// Reads the keys of values.yaml with their "# --" documentation comments (helm-docs style).

/** A key of values.yaml, with whether a "# --" comment block sits right above it. */
export interface DocumentedKey {
  readonly path: string;
  readonly documented: boolean;
  /** The "# --" comment without its markers, for the README table. */
  readonly description: string;
  readonly line: number;
}

/**
 * The mapping keys of values.yaml, line by line. Keys inside list items belong to their list,
 * which is one value; keys below a documented key are covered by it (e.g. `resources:`).
 */
export function valuesKeys(source: string): DocumentedKey[] {
  const keys: DocumentedKey[] = [];
  const parents: { indent: number; path: string }[] = [];
  let comment: string[] = [];
  let listIndent = -1;
  source.split('\n').forEach((text, index) => {
    const indent = text.length - text.trimStart().length;
    const trimmed = text.trim();
    if (trimmed.startsWith('#')) {
      comment.push(trimmed);
      return;
    }
    if (trimmed === '') {
      comment = [];
      return;
    }
    if (listIndent >= 0 && indent > listIndent) {
      comment = [];
      return;
    }
    listIndent = -1;
    if (trimmed.startsWith('- ')) {
      listIndent = indent;
      comment = [];
      return;
    }
    const key = /^([A-Za-z0-9_.-]+):/.exec(trimmed)?.[1];
    if (key === undefined) return;
    while (parents.length > 0 && parents.at(-1)!.indent >= indent) parents.pop();
    const dotted = [...parents.map((p) => p.path), key].join('.');
    const start = comment.findIndex((c) => c.startsWith('# --'));
    const description =
      start < 0
        ? ''
        : comment
            .slice(start)
            .map((c) => c.replace(/^# (--)?\s*/, ''))
            .join(' ');
    keys.push({ path: dotted, documented: start >= 0, description, line: index + 1 });
    parents.push({ indent, path: key });
    comment = [];
  });
  return keys;
}

/** The chart README's values table (Key, Type, Default, Description), one line per row. */
export function valuesTable(source: string, values: unknown): string[] {
  const documented = valuesKeys(source).filter((k) => k.documented);
  const valueOf = (dotted: string) =>
    dotted
      .split('.')
      .reduce<unknown>(
        (o, key) =>
          o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined,
        values,
      );
  const typeOf = (v: unknown) =>
    Array.isArray(v) ? 'list' : v === null ? 'null' : typeof v === 'number' ? 'int' : typeof v;
  const rows = documented.map((k) => {
    const value = valueOf(k.path);
    const parent = documented.some((o) => o.path.startsWith(`${k.path}.`));
    const shown = parent ? 'the keys below' : `\`${JSON.stringify(value)}\``;
    const cells = [`\`${k.path}\``, typeOf(value), shown, k.description];
    return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  });
  return ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |', ...rows];
}
