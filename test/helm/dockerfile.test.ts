// The Dockerfile and .dockerignore, read statically (no docker engine here): a multi-stage build,
// a runtime with production dependencies only, non-root, tini as PID 1, both ports exposed, no
// secret baked in, and the config path the Helm chart mounts.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chartValues, readText, root, templatesDir, valueAt } from './chart.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
function instructions(source: string): Instruction[] {
  return source
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each stage, by stage. */
function stages(all: readonly Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const instruction of all) {
    if (instruction.op === 'FROM') result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

function jsonArgs(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed)) throw new Error(`${args} is not the exec (JSON) form`);
  return parsed.map(String);
}

describe('Dockerfile', () => {
  const source = readText(path.join(root, 'Dockerfile'));
  const all = instructions(source);
  const byStage = stages(all);
  const runtime = byStage.at(-1) ?? [];
  const runtimeOps = (op: string) => runtime.filter((i) => i.op === op);

  it('builds in several stages and compiles TypeScript outside the runtime stage', () => {
    expect(byStage.length).to.be.at.least(2);
    const build = byStage.find((stage) => stage.some((i) => /npm run build|tsc/.test(i.args)));
    expect(build, 'a stage that compiles').to.not.equal(undefined);
    expect(build).to.not.equal(runtime);
    expect(runtimeOps('COPY').some((i) => /--from=build .*dist\/gateway/.test(i.args))).to.equal(
      true,
    );
  });

  it('installs production dependencies only, without running install scripts', () => {
    expect(source).to.match(/npm ci --omit=dev --ignore-scripts/);
    const runtimeRuns = runtimeOps('RUN').map((i) => i.args);
    expect(runtimeRuns.some((run) => /npm (ci|install)(?!.*--omit=dev)/.test(run))).to.equal(false);
    // `npm ci` runs `prepare` (tsc) unless scripts are off; the sources are not there yet.
    for (const run of all.filter((i) => i.op === 'RUN' && /npm ci/.test(i.args))) {
      expect(run.args).to.include('--ignore-scripts');
    }
  });

  it('runs as a non-root numeric user in the runtime stage', () => {
    const user = runtimeOps('USER').at(-1)?.args;
    expect(user, 'USER').to.match(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).to.be.greaterThan(0);
  });

  it('exposes the public and admin ports of the default config and the chart', () => {
    const ports = runtimeOps('EXPOSE').flatMap((i) => i.args.split(/\s+/));
    expect(ports).to.include.members(['8080', '9090']);
    expect(valueAt(chartValues(), 'config.listen.port')).to.equal(8080);
    expect(valueAt(chartValues(), 'config.admin.port')).to.equal(9090);
  });

  it('runs node under tini as PID 1 on the config file the chart mounts', () => {
    const entrypoint = jsonArgs(runtimeOps('ENTRYPOINT').at(-1)?.args ?? 'null');
    expect(entrypoint.slice(0, 3)).to.deep.equal(['/usr/bin/tini', '--', 'node']);
    expect(entrypoint[3]).to.match(/dist\/gateway\/main\.js$/);
    expect(runtimeOps('RUN').some((i) => /apt-get install .*\btini\b/.test(i.args))).to.equal(true);
    const cmd = jsonArgs(runtimeOps('CMD').at(-1)?.args ?? 'null');
    expect(cmd).to.deep.equal(['--config', '/etc/captcha-gateway/config.yaml']);
    const helpers = readText(path.join(templatesDir, '_helpers.tpl'));
    expect(helpers).to.include('define "captcha-gateway.configDir" -}}\n/etc/captcha-gateway\n');
  });

  it('builds every stage on Node 24 LTS, one of the versions package.json supports', () => {
    const arg = all.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    expect(arg?.args).to.equal('NODE_IMAGE=node:24-bookworm-slim');
    const froms = all.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.every((image) => image === '${NODE_IMAGE}')).to.equal(true);
    const engines = (
      JSON.parse(readText(path.join(root, 'package.json'))) as {
        engines: { node: string };
      }
    ).engines.node;
    expect(engines).to.match(/\|\|\s*>=\s*24\b|\^24\b/);
  });

  it('opens the admin port to the container network, which config/default.yaml keeps on loopback', () => {
    expect(runtimeOps('ENV').map((i) => i.args)).to.include('ADMIN_HOST=0.0.0.0');
    expect(readText(path.join(root, 'config/default.yaml'))).to.match(
      /^admin:.*\n(?:\s+#.*\n)*\s+host: \$\{ADMIN_HOST:-127\.0\.0\.1\}/m,
    );
  });

  it('bakes no secret into the image', () => {
    const secretish = /(secret|token|password|passwd|api_?key|private_?key)/i;
    for (const i of all.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
      expect(i.args, `${i.op} ${i.args}`).to.not.match(secretish);
    }
    for (const i of all.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      expect(i.args, `${i.op} ${i.args}`).to.not.match(/\.env\b|\.pem\b|\.key\b|id_rsa|\.npmrc/);
    }
    expect(all.some((i) => i.op === 'ADD')).to.equal(false);
  });
});

describe('.dockerignore', () => {
  const patterns = readText(path.join(root, '.dockerignore'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('is an allow-list: everything is excluded unless named', () => {
    expect(patterns[0]).to.equal('*');
    expect(patterns.slice(1).every((p) => p.startsWith('!'))).to.equal(true);
    expect(patterns).to.not.include.members(['!.env', '!node_modules', '!dist', '!test']);
  });

  it('lets in exactly what the Dockerfile copies from the build context, all of which exists', () => {
    const allowed = patterns.slice(1).map((p) => p.slice(1).replace(/\/$/, ''));
    const copied = instructions(readText(path.join(root, 'Dockerfile')))
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
      .map((source) => source.replace(/\/$/, ''));
    for (const source of copied) {
      expect(allowed, `${source} is excluded by .dockerignore`).to.include(source);
      expect(existsSync(path.join(root, source)), `${source} exists`).to.equal(true);
    }
    expect([...new Set(copied)].sort()).to.deep.equal([...allowed].sort());
  });
});
