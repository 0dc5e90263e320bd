// Reads a V8 CPU profile and tells where the busy time went, per request: self time by area (a
// package, a gateway file, a Node module, GC), the top frames by self time, the application frames
// by inclusive time, and what one profile spends beyond another (the gateway beyond the baseline).

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Cost {
  readonly name: string;
  readonly area: string;
  /** Microseconds over the whole profile. */
  us: number;
}

export interface ProfileSummary {
  /** Requests answered while the profile ran: every figure below is divided by it. */
  readonly requests: number;
  readonly busyUs: number;
  readonly idleUs: number;
  /** Self time by area. */
  readonly areas: ReadonlyMap<string, Cost>;
  /** Self time by frame. */
  readonly frames: ReadonlyMap<string, Cost>;
  /** Inclusive time by frame, for frames of the application (packages and dist/, not Node's). */
  readonly inclusive: ReadonlyMap<string, Cost>;
}

/** Where a frame's code lives, in words a reader of this repository recognises. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return url.slice(dist + '/dist/'.length);
  const bench = url.lastIndexOf('/test/bench/');
  if (bench !== -1) return `test/bench/${url.slice(bench + '/test/bench/'.length)}`;
  return url;
}

const isApplication = (area: string) => !area.startsWith('node:') && !area.startsWith('(');

function frameName(frame: CallFrame): string {
  const file = frame.url === '' ? '' : ` ${frame.url.split('/').pop()}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'}${file}`;
}

function add(map: Map<string, Cost>, key: string, name: string, area: string, us: number): void {
  const cost = map.get(key);
  if (cost) cost.us += us;
  else map.set(key, { name, area, us });
}

export function summariseProfile(profile: CpuProfile, requests: number): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const areas = new Map<string, Cost>();
  const frames = new Map<string, Cost>();
  const inclusive = new Map<string, Cost>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const onStack = byId.get(at)?.callFrame;
      if (onStack) stack.push(onStack);
    }
    // Starting the profiler (an inspector call, synchronous) is sampled too; it is not the server's.
    if (stack.some((f) => f.url === 'node:inspector')) continue;
    busyUs += us;
    const area = areaOf(frame);
    const name = frameName(frame);
    add(areas, area, area, area, us);
    add(frames, `${name}|${area}`, name, area, us);
    // Inclusive: every application frame on the stack, once per stack even when recursive.
    const seen = new Set<string>();
    for (const onStack of stack) {
      const stackArea = areaOf(onStack);
      if (!isApplication(stackArea)) continue;
      const stackName = frameName(onStack);
      const key = `${stackName}|${stackArea}`;
      if (seen.has(key)) continue;
      seen.add(key);
      add(inclusive, key, stackName, stackArea, us);
    }
  }
  return { requests, busyUs, idleUs, areas, frames, inclusive };
}

const perRequest = (us: number, requests: number) => (requests === 0 ? 0 : us / requests);
const escape = (text: string) => text.replaceAll('|', '\\|');

function costTable(
  costs: ReadonlyMap<string, Cost>,
  summary: ProfileSummary,
  top: number,
  withArea: boolean,
): string[] {
  const sorted = [...costs.values()].sort((a, b) => b.us - a.us).slice(0, top);
  return [
    withArea ? '| µs/request | of busy | frame | area |' : '| µs/request | of busy | area |',
    withArea ? '| ---: | ---: | --- | --- |' : '| ---: | ---: | --- |',
    ...sorted.map((c) => {
      const cells = [
        perRequest(c.us, summary.requests).toFixed(2),
        `${((100 * c.us) / summary.busyUs).toFixed(1)} %`,
        escape(c.name),
        ...(withArea ? [escape(c.area)] : []),
      ];
      return `| ${cells.join(' | ')} |`;
    }),
  ];
}

/** Markdown for one profile. */
export function renderProfile(summary: ProfileSummary, top = 15): string[] {
  return [
    `busy ${perRequest(summary.busyUs, summary.requests).toFixed(1)} µs per request (${(summary.busyUs / 1000).toFixed(0)} ms busy, ${(summary.idleUs / 1000).toFixed(0)} ms idle, ${summary.requests.toLocaleString('en-US')} requests)`,
    '',
    'self time by area:',
    '',
    ...costTable(summary.areas, summary, top, false),
    '',
    'top frames by self time:',
    '',
    ...costTable(summary.frames, summary, top, true),
    '',
    'application frames (packages, dist/) by inclusive time:',
    '',
    ...costTable(summary.inclusive, summary, top, true),
    '',
  ];
}

/** Markdown: where `subject` spends more per request than `base`, by area and by frame. */
export function renderDelta(
  base: ProfileSummary,
  subject: ProfileSummary,
  labels: { base: string; subject: string },
  top = 20,
): string[] {
  const rows = (baseCosts: ReadonlyMap<string, Cost>, costs: ReadonlyMap<string, Cost>) => {
    const keys = new Set([...baseCosts.keys(), ...costs.keys()]);
    return [...keys]
      .map((key) => {
        const a = perRequest(baseCosts.get(key)?.us ?? 0, base.requests);
        const b = perRequest(costs.get(key)?.us ?? 0, subject.requests);
        const cost = costs.get(key) ?? baseCosts.get(key)!;
        return { cost, a, b, delta: b - a };
      })
      .sort((x, y) => y.delta - x.delta)
      .slice(0, top)
      .map(
        (r) =>
          `| ${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(2)} | ${r.a.toFixed(2)} | ${r.b.toFixed(2)} | ${escape(r.cost.name)} |`,
      );
  };
  const head = `| Δ µs/request | ${labels.base} | ${labels.subject} |`;
  const busyA = perRequest(base.busyUs, base.requests);
  const busyB = perRequest(subject.busyUs, subject.requests);
  return [
    `busy per request: ${labels.base} ${busyA.toFixed(1)} µs, ${labels.subject} ${busyB.toFixed(1)} µs (+${(busyB - busyA).toFixed(1)} µs, ${(busyB / busyA).toFixed(2)}×)`,
    '',
    'self time by area, largest increase first:',
    '',
    `${head} area |`,
    '| ---: | ---: | ---: | --- |',
    ...rows(base.areas, subject.areas),
    '',
    'self time by frame, largest increase first:',
    '',
    `${head} frame |`,
    '| ---: | ---: | ---: | --- |',
    ...rows(base.frames, subject.frames),
    '',
  ];
}
