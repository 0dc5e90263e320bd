// Finds the `.Values` paths a Go template reads, without helm: scans the template actions and
// follows `with` blocks, so `.y` inside `{{ with .Values.x }}` counts as `x.y`. Inside `range`,
// `define` and other unknown contexts only absolute `.Values` / `$.Values` references count.

const BUILT_INS = new Set(['Values', 'Release', 'Chart', 'Capabilities', 'Template', 'Files']);

/** One `.Values` path read by a template, and where. */
export interface Reference {
  readonly path: string;
  readonly file: string;
  readonly line: number;
}

/** A block's dot: a `.Values` path, or unknown (root, a range item, a helper's argument). */
type Context = string | undefined;

function valuesPathOf(expression: string): string | undefined {
  const match = /^\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$/.exec(expression.trim());
  return match?.[1]?.slice(1);
}

/** Every `.Values` reference in one template file. */
export function valuesReferences(file: string, source: string): Reference[] {
  const found: Reference[] = [];
  const stack: { kind: string; context: Context; outer: Context }[] = [];
  let context: Context;
  // A raw or quoted string may hold "}}" (text meant for Prometheus): it stays in its action.
  const actions = /\{\{-?((?:`[^`]*`|"(?:[^"\\]|\\.)*"|[^}`"]|\}(?!\}))*?)-?\}\}/g;
  for (const action of source.matchAll(actions)) {
    const line = source.slice(0, action.index).split('\n').length;
    // String literals hold file names and messages, never references.
    const body = action[1]!.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""').trim();
    if (body.startsWith('/*')) continue;
    const keyword = /^(if|with|range|define|block|else|end)\b\s*(.*)$/s.exec(body);
    const head = keyword?.[1];
    const rest = keyword?.[2] ?? body;

    const add = (dotted: string) => found.push({ path: dotted, file, line });
    for (const m of rest.matchAll(/(?:^|[^\w$.)\]])\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      add(m[1]!.slice(1));
    }
    if (context !== undefined) {
      for (const m of rest.matchAll(/(?:^|[\s(|])\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_]\w*)*)/g)) {
        if (!BUILT_INS.has(m[1]!.split('.')[0]!)) add(`${context}.${m[1]}`);
      }
    }

    switch (head) {
      case 'with': {
        stack.push({ kind: 'with', context: valuesPathOf(rest.split('|')[0]!), outer: context });
        context = stack.at(-1)!.context;
        break;
      }
      case 'range':
      case 'define':
      case 'block':
        stack.push({ kind: head, context: undefined, outer: context });
        context = undefined;
        break;
      case 'if':
        stack.push({ kind: 'if', context, outer: context });
        break;
      case 'else': {
        // The else branch of a with runs in the outer context.
        const top = stack.at(-1);
        if (top?.kind === 'with') context = top.outer;
        break;
      }
      case 'end':
        context = stack.pop()?.outer;
        break;
    }
  }
  return found;
}
