// `npm run helm:lint` (helm/lint.sh): with helm it lints and renders the chart; without helm (as on
// the CI machines) it says so and succeeds, so it can sit in any pipeline.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixturesDir, readText, root, yamlFiles } from './chart.js';

describe('npm run helm:lint', () => {
  it('is the package.json script that runs helm/lint.sh', () => {
    const pkg = JSON.parse(readText(path.join(root, 'package.json'))) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['helm:lint']).to.equal('sh helm/lint.sh');
  });

  it('says helm is missing and exits 0 when helm is not on PATH', function () {
    // A PATH holding only the tools the script needs without helm.
    const bin = mkdtempSync(path.join(tmpdir(), 'helm-lint-'));
    try {
      for (const tool of ['sh', 'dirname', 'sed', 'grep', 'basename']) {
        const found = ['/bin', '/usr/bin'].map((d) => path.join(d, tool)).find(existsSync);
        if (!found) this.skip();
        symlinkSync(found, path.join(bin, tool));
      }
      const run = spawnSync(path.join(bin, 'sh'), [path.join(root, 'helm/lint.sh')], {
        env: { PATH: bin },
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/helm is not on PATH/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('names the message each render-fails fixture must fail with ("# fails: ...")', () => {
    for (const file of yamlFiles(path.join(fixturesDir, 'render-fails'))) {
      expect(readText(file).split('\n')[0], path.basename(file)).to.match(/^# fails: \S.{10,}$/);
    }
  });
});
