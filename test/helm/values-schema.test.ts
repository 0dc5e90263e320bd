// values.schema.json: the chart's values pass it, and the mistakes operators make are rejected
// (Helm runs the same schema on `helm install`, `helm upgrade`, `helm template` and `helm lint`).
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { expect } from 'chai';
import path from 'node:path';
import { configSchema } from '../../gateway/config/schema.js';
import {
  chartDir,
  chartValues,
  fixturesDir,
  isMap,
  mergeValues,
  readText,
  valuesWith,
  yamlFiles,
} from './chart.js';

const schema: unknown = JSON.parse(readText(path.join(chartDir, 'values.schema.json')));

function compile(): ValidateFunction {
  // strict: a keyword ajv does not know (a typo in the schema itself) is an error too.
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  if (!isMap(schema)) throw new Error('values.schema.json is not an object');
  return ajv.compile(schema);
}

function problems(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.keyword}: ${e.message ?? ''}`)
    .join('\n');
}

describe('helm chart values.schema.json', () => {
  const validate = compile();

  it('is a draft-07 schema that rejects unknown keys at the top level', () => {
    expect(schema).to.include({
      $schema: 'http://json-schema.org/draft-07/schema#',
      additionalProperties: false,
    });
  });

  it('accepts values.yaml', () => {
    const ok = validate(chartValues());
    expect(ok, problems(validate.errors)).to.equal(true);
  });

  for (const file of yamlFiles(path.join(chartDir, 'ci'))) {
    it(`accepts values.yaml with ci/${path.basename(file)}`, () => {
      const ok = validate(valuesWith(file));
      expect(ok, problems(validate.errors)).to.equal(true);
    });
  }

  // Those must fail at render time, in the chart's own checks, not in the schema.
  for (const file of yamlFiles(path.join(fixturesDir, 'render-fails'))) {
    it(`accepts render-fails/${path.basename(file)} (its failure is the chart's own check)`, () => {
      const ok = validate(valuesWith(file));
      expect(ok, problems(validate.errors)).to.equal(true);
    });
  }

  // Each bad file names its expected error on its first line: "# rejects: <keyword> at <path>".
  for (const file of yamlFiles(path.join(fixturesDir, 'bad-values'))) {
    const expected = /^# rejects: (\w+) at (\S+)/.exec(readText(file));
    it(`rejects bad-values/${path.basename(file)} (${expected?.[1]} at ${expected?.[2]})`, () => {
      if (!expected) expect.fail('the first line must be "# rejects: <keyword> at <path>"');
      const [, keyword, at] = expected;
      const instancePath = at === '/' ? '' : at;
      expect(validate(valuesWith(file))).to.equal(false);
      const found = (validate.errors ?? []).some(
        (e) => e.keyword === keyword && e.instancePath === instancePath,
      );
      expect(found, `expected ${keyword} at ${at}, got:\n${problems(validate.errors)}`).to.equal(
        true,
      );
    });
  }

  // Helm hands a parent chart's `global` to every subchart and validates it against the
  // subchart's schema: a schema closed at the top must let any global through, or the chart
  // cannot be a dependency.
  it('accepts any global a parent chart passes (as a dependency)', () => {
    const fromParent = mergeValues(chartValues(), {
      global: {
        imageRegistry: 'registry.example.com',
        imagePullSecrets: ['platform-registry', { name: 'shop-registry' }],
        storageClass: 'fast-ssd',
        postgresql: { auth: { existingSecret: 'db' } },
      },
    });
    expect(validate(fromParent), problems(validate.errors)).to.equal(true);
    const withoutGlobal = chartValues();
    delete withoutGlobal.global;
    expect(validate(withoutGlobal), problems(validate.errors)).to.equal(true);
  });

  it('still checks the globals the chart reads', () => {
    expect(validate(mergeValues(chartValues(), { global: { imageRegistry: 5 } }))).to.equal(false);
    expect(validate.errors?.map((e) => e.instancePath)).to.include('/global/imageRegistry');
  });

  it('lists exactly the gateway config sections under config (so a typo there fails early)', () => {
    const configProperties = isMap(schema) ? schema.properties : undefined;
    const config = isMap(configProperties) ? configProperties.config : undefined;
    const sections = isMap(config) && isMap(config.properties) ? config.properties : {};
    expect(Object.keys(sections).sort()).to.deep.equal(Object.keys(configSchema.shape).sort());
  });
});
