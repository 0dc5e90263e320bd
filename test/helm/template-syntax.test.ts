// What breaks `helm template` or its YAML, caught without helm: unbalanced blocks, an include of a
// helper that does not exist, a misspelt function, a variable used before it is set, and a
// `nindent` that does not match the line it stands on (the YAML would land at the wrong depth).
import { expect } from 'chai';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ACTION, readText, templatesDir } from './chart.js';

interface Action {
  readonly file: string;
  readonly line: number;
  /** Without the delimiters, the trim markers, and the text of its strings. */
  readonly body: string;
  /** The source line it stands on. */
  readonly text: string;
}

/** Go template, Helm and Sprig functions (Helm 3); a name outside the list is a typo. */
const FUNCTIONS = new Set([
  // text/template
  ...`and or not len index slice print printf println eq ne lt le gt ge call html js urlquery`.split(
    /\s+/,
  ),
  // Helm
  ...`include tpl required fail lookup toYaml fromYaml fromYamlArray toJson fromJson
    fromJsonArray toToml`.split(/\s+/),
  // Sprig: strings, lists, dicts, numbers, types, encodings, flow
  ...`add add1 addf adler32sum append b64dec b64enc cat ceil coalesce compact concat contains
    date deepCopy deepEqual default dict dig div divf empty first float64 floor get
    has hasKey hasPrefix hasSuffix indent initial int int64 join keys kindIs kindOf last list
    lower max merge mergeOverwrite min mod mul mulf nindent now omit pick pluck prepend quote
    randAlphaNum regexFind regexFindAll regexMatch regexReplaceAll repeat replace rest reverse
    round semver semverCompare set sha1sum sha256sum sortAlpha split splitList splitn squote
    sub subf substr ternary title toDate toString toStrings trim trimAll trimPrefix trimSuffix
    trunc typeIs typeOf uniq unset until untilStep upper uuidv4 values without`.split(/\s+/),
]);

const KEYWORDS = new Set(
  `if else with range end define template block nil true false break continue`.split(' '),
);

function templateFiles(): string[] {
  return readdirSync(templatesDir, { recursive: true, encoding: 'utf8' })
    .filter((name) => statSync(path.join(templatesDir, name)).isFile())
    .sort();
}

function actionsOf(file: string): Action[] {
  const source = readText(path.join(templatesDir, file));
  const lines = source.split('\n');
  return [...source.matchAll(ACTION)]
    .map((m) => {
      const line = source.slice(0, m.index).split('\n').length;
      const body = m[0]
        .replace(/^\{\{-?/, '')
        .replace(/-?\}\}$/, '')
        .replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""')
        .trim();
      return { file, line, body, text: lines[line - 1]! };
    })
    .filter((a) => !a.body.startsWith('/*'));
}

const all = templateFiles().flatMap(actionsOf);
const where = (a: Action) => `${a.file}:${a.line}`;

describe('helm chart templates: syntax', () => {
  it('finds the actions of every template (the scanner works)', () => {
    expect(all.length).to.be.greaterThan(200);
    expect(new Set(all.map((a) => a.file))).to.include('_helpers.tpl');
  });

  it('closes every if, with, range and define with an end, and puts else inside one', () => {
    const problems: string[] = [];
    for (const file of templateFiles()) {
      const open: Action[] = [];
      for (const action of all.filter((a) => a.file === file)) {
        const keyword = /^(\w+)/.exec(action.body)?.[1];
        if (keyword && ['if', 'with', 'range', 'define', 'block'].includes(keyword)) {
          open.push(action);
        } else if (keyword === 'else') {
          const top = /^(\w+)/.exec(open.at(-1)?.body ?? '')?.[1];
          if (!top || !['if', 'with', 'range'].includes(top))
            problems.push(`${where(action)}: else outside if/with/range`);
        } else if (keyword === 'end') {
          if (!open.pop()) problems.push(`${where(action)}: end without a block`);
        }
      }
      for (const action of open) problems.push(`${where(action)}: "${action.body}" never ends`);
    }
    expect(problems).to.deep.equal([]);
  });

  it('includes only helpers that are defined, and defines only helpers that are used', () => {
    const defined = all.flatMap((a) => {
      const name = /^define ""/.test(a.body) ? definedName(a) : undefined;
      return name ? [name] : [];
    });
    expect(defined).to.include('captcha-gateway.fullname');
    const included = all.flatMap((a) => includedNames(a).map((name) => ({ a, name })));
    const missing = included.filter(({ name }) => !defined.includes(name));
    expect(missing.map(({ a, name }) => `${where(a)}: ${name}`)).to.deep.equal([]);
    const unused = defined.filter((name) => !included.some((i) => i.name === name));
    expect(unused).to.deep.equal([]);
  });

  it('calls only functions that Go templates, Helm and Sprig have', () => {
    const unknown = all.flatMap((a) =>
      functionsOf(a.body)
        .filter((name) => !FUNCTIONS.has(name))
        .map((name) => `${where(a)}: ${name}`),
    );
    expect(unknown).to.deep.equal([]);
  });

  it('sets every variable before it is used, within its helper or template', () => {
    const problems: string[] = [];
    for (const file of templateFiles()) {
      let known = new Set<string>();
      for (const action of all.filter((a) => a.file === file)) {
        if (action.body.startsWith('define ')) known = new Set();
        const declared = [...action.body.matchAll(/(\$\w+)(?:\s*,\s*(\$\w+))?\s*:=/g)].flatMap(
          (m) => [m[1]!, ...(m[2] ? [m[2]] : [])],
        );
        const used = [...action.body.matchAll(/\$\w+/g)].map((m) => m[0]);
        for (const name of used) {
          if (!known.has(name) && !declared.includes(name) && name !== '$_') {
            problems.push(`${where(action)}: ${name}`);
          }
        }
        declared.forEach((name) => known.add(name));
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('indents each nindent block as deep as the line it stands on', () => {
    const lines = all.filter(
      (a) =>
        /\| nindent \d+$/.test(a.body) &&
        a.text.trim().startsWith('{{-') &&
        a.text.trim().endsWith('}}'),
    );
    expect(lines.length).to.be.greaterThan(20);
    const wrong = lines.filter((a) => {
      const depth = Number(/nindent (\d+)$/.exec(a.body)![1]);
      return a.text.length - a.text.trimStart().length !== depth;
    });
    expect(wrong.map((a) => `${where(a)}: ${a.text.trim()}`)).to.deep.equal([]);
  });
});

/** The helper a `define` action names (its string was blanked: read it from the source line). */
function definedName(action: Action): string | undefined {
  return /\{\{-? define "([^"]+)"/.exec(action.text)?.[1];
}

/** The helpers an action includes, read from its source line. */
function includedNames(action: Action): string[] {
  if (!/\b(?:include|template)\b/.test(action.body)) return [];
  return [...action.text.matchAll(/\b(?:include|template) "([^"]+)"/g)].map((m) => m[1]!);
}

/** The names called as functions: first in a command (after start, `|` or `(`), not fields or variables. */
function functionsOf(body: string): string[] {
  const withoutDecl = body.replace(/^\s*(?:else\s+)?(?:if|with|range|define|block|template)\b/, '');
  return [...withoutDecl.matchAll(/(?:^|[|(]|:=|=)\s*([A-Za-z_]\w*)/g)]
    .map((m) => m[1]!)
    .filter((name) => !KEYWORDS.has(name));
}
