// The templates' structure, without helm: each template's YAML skeleton (actions stripped, see
// chart.ts) parses, names its kind and apiVersion, and the resources that must exist have the
// probes, ports, security settings and checksum annotations the chart promises.
import { expect } from 'chai';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  chartDir,
  chartValues,
  isMap,
  readText,
  resourceTemplates,
  skeleton,
  templatesDir,
  valueAt,
} from './chart.js';

/** The one resource a template renders, as its skeleton parses. */
function resource(name: string): Record<string, unknown> {
  const docs = parseAllDocuments(skeleton(readText(path.join(templatesDir, name))), {
    uniqueKeys: false,
  });
  const objects = docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${name}: ${d.errors[0]!.message}`);
    return d.toJS() as unknown;
  });
  const found = objects.filter(isMap);
  if (found.length !== 1) throw new Error(`${name}: ${found.length} resources, expected one`);
  return found[0]!;
}

function get(object: unknown, dotted: string): unknown {
  return valueAt(object, dotted);
}

function list(object: unknown, dotted: string): Record<string, unknown>[] {
  const value = get(object, dotted);
  return Array.isArray(value) ? value.filter(isMap) : [];
}

const EXPECTED: Record<string, { kind: string; apiVersion: string; optional?: string }> = {
  'configmap.yaml': { kind: 'ConfigMap', apiVersion: 'v1' },
  'dashboard-configmap.yaml': {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    optional: 'metrics.grafanaDashboard.enabled',
  },
  'deployment.yaml': { kind: 'Deployment', apiVersion: 'apps/v1' },
  'hpa.yaml': {
    kind: 'HorizontalPodAutoscaler',
    apiVersion: 'autoscaling/v2',
    optional: 'autoscaling.enabled',
  },
  'ingress.yaml': {
    kind: 'Ingress',
    apiVersion: 'networking.k8s.io/v1',
    optional: 'ingress.enabled',
  },
  'networkpolicy.yaml': {
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    optional: 'networkPolicy.enabled',
  },
  'poddisruptionbudget.yaml': {
    kind: 'PodDisruptionBudget',
    apiVersion: 'policy/v1',
    optional: 'podDisruptionBudget.enabled',
  },
  'prometheusrule.yaml': {
    kind: 'PrometheusRule',
    apiVersion: 'monitoring.coreos.com/v1',
    optional: 'metrics.prometheusRule.enabled',
  },
  'secret.yaml': { kind: 'Secret', apiVersion: 'v1' },
  'service-admin.yaml': { kind: 'Service', apiVersion: 'v1' },
  'service.yaml': { kind: 'Service', apiVersion: 'v1' },
  'serviceaccount.yaml': { kind: 'ServiceAccount', apiVersion: 'v1' },
  'servicemonitor.yaml': {
    kind: 'ServiceMonitor',
    apiVersion: 'monitoring.coreos.com/v1',
    optional: 'metrics.serviceMonitor.enabled',
  },
};

describe('helm chart templates: structure', () => {
  const values = chartValues();

  it('has one template per resource kind, each one expected here', () => {
    const names = resourceTemplates().map((file) => path.basename(file));
    expect(names).to.deep.equal(Object.keys(EXPECTED).sort());
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    it(`${name} renders a ${want.kind} (${want.apiVersion}) with name, namespace and labels`, () => {
      const object = resource(name);
      expect(object).to.include({ apiVersion: want.apiVersion, kind: want.kind });
      expect(get(object, 'metadata.name')).to.equal('TEMPLATED');
      expect(get(object, 'metadata.namespace')).to.equal('TEMPLATED');
      expect(readText(path.join(templatesDir, name))).to.match(
        /labels:\n\s+\{\{- include "captcha-gateway\.labels" \. \| nindent 4 \}\}/,
      );
    });

    const toggle = want.optional;
    if (toggle) {
      it(`${name} renders only with ${toggle}, off by default`, () => {
        const source = readText(path.join(templatesDir, name));
        expect(source).to.match(new RegExp(`\\{\\{- if (and )?\\.Values\\.${toggle}\\b`));
        expect(valueAt(values, toggle)).to.equal(false);
      });
    }
  }

  describe('deployment.yaml', () => {
    const source = readText(path.join(templatesDir, 'deployment.yaml'));
    const deployment = resource('deployment.yaml');
    const pod = get(deployment, 'spec.template.spec');
    const [gateway] = list(pod, 'containers');
    const [check] = list(pod, 'initContainers');

    it('runs the checks that fail rendering first', () => {
      expect(source.split('\n')[0]).to.equal('{{- include "captcha-gateway.validate" . -}}');
    });

    it('selects its pods by the selector labels', () => {
      expect(source).to.match(
        /matchLabels:\n\s+\{\{- include "captcha-gateway\.selectorLabels" \. \| nindent 6 \}\}/,
      );
    });

    it('rolls the pods on any config change with onConfigChange roll, else on start-time keys only', () => {
      const annotations = get(deployment, 'spec.template.metadata.annotations');
      expect(annotations).to.include.keys('checksum/config', 'checksum/config-start');
      expect(source).to.match(
        new RegExp(
          [
            '\\{\\{- if eq \\(include "captcha-gateway\\.onConfigChange" \\.\\) "roll" \\}\\}',
            ' +checksum/config: \\{\\{ include \\(print \\$\\.Template\\.BasePath "/configmap\\.yaml"\\) \\. \\| sha256sum \\}\\}',
            ' +\\{\\{- else \\}\\}',
            '(?: +\\{\\{- /\\*.*\\*/\\}\\}\\n)? +checksum/config-start: \\{\\{ include "captcha-gateway\\.startConfig" \\. \\| sha256sum \\}\\}',
            ' +\\{\\{- end \\}\\}',
          ].join('\\n'),
        ),
      );
    });

    it('rolls the pods when the chart Secret changes, whatever onConfigChange says', () => {
      const annotations = get(deployment, 'spec.template.metadata.annotations');
      expect(annotations).to.include.keys('checksum/secret');
      expect(source).to.include(
        'checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}',
      );
    });

    it('has a gateway container with the http and admin ports', () => {
      expect(gateway?.name).to.equal('gateway');
      expect(list(gateway, 'ports').map((p) => p.name)).to.deep.equal(['http', 'admin']);
    });

    it('probes startup and liveness on /healthz and readiness on /readyz, each one optional', () => {
      expect(gateway).to.include.keys('startupProbe', 'livenessProbe', 'readinessProbe');
      for (const [probe, path] of [
        ['startupProbe', '/healthz'],
        ['livenessProbe', '/healthz'],
        ['readinessProbe', '/readyz'],
      ] as const) {
        expect(source, probe).to.include(
          [
            `{{- if .Values.${probe}.enabled }}`,
            `          ${probe}:`,
            `            {{- include "captcha-gateway.probe" (dict "probe" .Values.${probe} "path" "${path}") | nindent 12 }}`,
            `          {{- end }}`,
          ].join('\n'),
        );
        expect(get(values, `${probe}.enabled`), probe).to.equal(true);
      }
    });

    it('gives a probe GET on the admin port unless its values bring their own handler', () => {
      const helpers = readText(path.join(templatesDir, '_helpers.tpl'));
      const body = /define "captcha-gateway\.probe" -\}\}\n([\s\S]*?)\{\{- end \}\}\n\n/.exec(
        helpers,
      )?.[1];
      expect(body).to.include('{{- $probe := omit .probe "enabled" }}');
      expect(body).to.include(
        '{{- if not (or (hasKey $probe "httpGet") (hasKey $probe "tcpSocket") (hasKey $probe "exec") (hasKey $probe "grpc")) }}\n{{- $_ := set $probe "httpGet" (dict "path" .path "port" "admin") }}',
      );
      // The schema lets exactly those handlers through.
      const schema = JSON.parse(readText(path.join(chartDir, 'values.schema.json'))) as unknown;
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const properties = valueAt(schema, `properties.${probe}.properties`);
        expect(properties, probe).to.include.keys(
          'enabled',
          'httpGet',
          'tcpSocket',
          'exec',
          'grpc',
        );
      }
    });

    it('starts slowly only once: the startup probe allows a minute, liveness stays quick', () => {
      const seconds = (probe: string) =>
        Number(get(values, `${probe}.periodSeconds`)) *
        Number(get(values, `${probe}.failureThreshold`));
      expect(seconds('startupProbe')).to.be.at.least(30);
      expect(seconds('livenessProbe')).to.be.at.most(30);
    });

    it('pauses in preStop and derives a grace period that covers the pause and the drain', () => {
      expect(get(gateway, 'lifecycle.preStop.exec.command')).to.deep.equal(['sleep', 'TEMPLATED']);
      expect(get(pod, 'terminationGracePeriodSeconds')).to.equal('TEMPLATED');
      expect(source).to.include(
        'terminationGracePeriodSeconds: {{ include "captcha-gateway.terminationGracePeriodSeconds" . }}',
      );
      const helpers = readText(path.join(templatesDir, '_helpers.tpl'));
      expect(helpers).to.include('{{- add $preStop (int $drain) 5 }}');
      expect(valueAt(values, 'lifecycle.preStopSleepSeconds')).to.be.greaterThan(0);
    });

    it('checks the config with the gateway itself in an init container, same image and env', () => {
      expect(check?.name).to.equal('check-config');
      expect(check?.args).to.deep.equal(['--config', 'TEMPLATED', '--check']);
      expect(gateway?.args).to.deep.equal(['--config', 'TEMPLATED']);
      expect(check?.image).to.equal(gateway?.image);
      expect(
        source.match(/\{\{- with include "captcha-gateway\.env" \. \| trim \}\}/g),
      ).to.have.length(2);
      expect(source).to.match(
        /\{\{- if or \.Values\.checkConfig\.enabled \.Values\.initContainers \}\}\n\s+initContainers:\n\s+\{\{- end \}\}\n\s+\{\{- if \.Values\.checkConfig\.enabled \}\}/,
      );
      expect(valueAt(values, 'checkConfig.enabled')).to.equal(true);
    });

    it('mounts the config directory read-only (not a subPath, so updates reach the pod)', () => {
      for (const container of [gateway, check]) {
        const mount = list(container, 'volumeMounts').find((m) => m.name === 'config');
        expect(mount).to.include({ readOnly: true });
        expect(mount).to.not.have.property('subPath');
      }
    });

    it('applies the pod and container security contexts to every container', () => {
      expect(pod).to.have.property('securityContext');
      expect(gateway).to.have.property('securityContext');
      expect(check).to.have.property('securityContext');
      expect(source).to.include('{{- toYaml .Values.podSecurityContext | nindent 8 }}');
      expect(
        source.match(/\{\{- toYaml \.Values\.securityContext \| nindent 12 \}\}/g),
      ).to.have.length(2);
    });

    it('defaults to the restricted Pod Security Standard', () => {
      expect(values.podSecurityContext).to.deep.include({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(get(values, 'podSecurityContext.runAsUser')).to.be.greaterThan(0);
      expect(values.securityContext).to.deep.include({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(get(values, 'serviceAccount.automountServiceAccountToken')).to.equal(false);
    });

    it('sets resources and spreads the pods over nodes and zones', () => {
      expect(get(values, 'resources.requests')).to.include.keys('cpu', 'memory');
      expect(get(values, 'resources.limits')).to.include.keys('memory');
      const keys = list(values, 'topologySpreadConstraints').map((c) => c.topologyKey);
      expect(keys).to.deep.equal(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    });

    it("adds the values' init containers after check-config, and their containers after the gateway", () => {
      expect(source).to.match(
        /\n {6}\{\{- end \}\}\n {6}\{\{- with \.Values\.initContainers \}\}\n {8}\{\{- toYaml \. \| nindent 8 \}\}\n {6}\{\{- end \}\}\n {6}containers:\n/,
      );
      expect(source).to.match(
        /\n {8}\{\{- with \.Values\.extraContainers \}\}\n {8}\{\{- toYaml \. \| nindent 8 \}\}\n {8}\{\{- end \}\}\n {6}volumes:\n/,
      );
      expect(values.initContainers).to.deep.equal([]);
      expect(values.extraContainers).to.deep.equal([]);
    });

    it('pulls [registry/]repository, global.imageRegistry first, with global and own pull secrets', () => {
      const helpers = readText(path.join(templatesDir, '_helpers.tpl'));
      expect(helpers).to.include(
        '{{- $registry := default .Values.image.registry .Values.global.imageRegistry | trimSuffix "/" }}',
      );
      expect(helpers).to.include('{{- $repository = printf "%s/%s" $registry $repository }}');
      expect(source.match(/image: \{\{ include "captcha-gateway\.image" \. \}\}/g)).to.have.length(
        2,
      );
      expect(source).to.include(
        '{{- with include "captcha-gateway.imagePullSecrets" . | trim }}\n      imagePullSecrets:',
      );
      expect(get(values, 'image.registry')).to.equal('');
      expect(get(values, 'global.imageRegistry')).to.equal('');
    });

    it('omits replicas when the HorizontalPodAutoscaler owns them', () => {
      expect(source).to.match(
        /\{\{- if not \.Values\.autoscaling\.enabled \}\}\n\s+replicas: \{\{ \.Values\.replicaCount \}\}/,
      );
    });
  });

  describe('services', () => {
    it('keeps the admin port off the public Service', () => {
      const service = resource('service.yaml');
      expect(list(service, 'spec.ports').map((p) => [p.name, p.targetPort])).to.deep.equal([
        ['http', 'http'],
      ]);
      expect(readText(path.join(templatesDir, 'service.yaml'))).to.not.match(/port: admin|9090/);
    });

    it('gives the admin port its own ClusterIP Service', () => {
      const admin = resource('service-admin.yaml');
      expect(get(admin, 'spec.type')).to.equal('ClusterIP');
      expect(list(admin, 'spec.ports').map((p) => [p.name, p.targetPort])).to.deep.equal([
        ['admin', 'admin'],
      ]);
      expect(get(admin, 'metadata.labels')).to.deep.equal({
        'app.kubernetes.io/component': 'admin',
      });
    });

    it('scrapes /metrics from the admin Service only', () => {
      const monitor = resource('servicemonitor.yaml');
      expect(list(monitor, 'spec.endpoints')[0]).to.include({ port: 'admin', path: '/metrics' });
      expect(get(monitor, 'spec.selector.matchLabels')).to.deep.equal({
        'app.kubernetes.io/component': 'admin',
      });
    });
  });

  describe('configmap.yaml and secret.yaml', () => {
    it('renders config: as YAML into config.yaml', () => {
      expect(readText(path.join(templatesDir, 'configmap.yaml'))).to.match(
        /config\.yaml: \|\n\s+\{\{- toYaml \.Values\.config \| nindent 4 \}\}/,
      );
    });

    it('makes a Secret only without secret.existingSecret, base64-encoding each value', () => {
      const source = readText(path.join(templatesDir, 'secret.yaml'));
      expect(source.split('\n')[0]).to.equal('{{- if not .Values.secret.existingSecret }}');
      expect(source).to.include('b64enc');
      expect(get(resource('secret.yaml'), 'type')).to.equal('Opaque');
    });
  });

  describe('existingSecret and existingSecretKeys', () => {
    const helpers = readText(path.join(templatesDir, '_helpers.tpl'));

    it("reads each variable from existingSecret under its existingSecretKeys name, else the variable's", () => {
      expect(helpers).to.include(
        [
          '      name: {{ $secretName }}',
          '      {{- if $.Values.secret.existingSecret }}',
          '      key: {{ index $.Values.secret.existingSecretKeys $key | default $env }}',
          '      optional: true',
          '      {{- else }}',
          '      key: {{ $env }}',
          '      {{- end }}',
        ].join('\n'),
      );
      expect(get(values, 'secret.existingSecretKeys')).to.deep.equal({});
    });

    it('maps every value the chart takes as a secret, and nothing else', () => {
      const block = /define "captcha-gateway\.secretKeys" -\}\}\n([\s\S]*?)\{\{- end/.exec(
        helpers,
      )?.[1];
      const taken = (block ?? '')
        .trim()
        .split('\n')
        .map((line) => line.split(': ')[1]);
      expect(taken).to.include('captchaSecret');
      const schema = JSON.parse(readText(path.join(chartDir, 'values.schema.json'))) as unknown;
      const mapped = valueAt(schema, 'properties.secret.properties.existingSecretKeys.properties');
      expect(Object.keys(isMap(mapped) ? mapped : {}).sort()).to.deep.equal([...taken].sort());
    });
  });

  describe('_helpers.tpl', () => {
    const helpers = readText(path.join(templatesDir, '_helpers.tpl'));

    it('truncates every name to 63 characters (57 + "-admin" for the admin Service)', () => {
      for (const name of ['name', 'fullname', 'chart']) {
        const body = new RegExp(
          `define "captcha-gateway\\.${name}" -\\}\\}([\\s\\S]*?)\\{\\{- end \\}\\}\\n\\n`,
        ).exec(helpers)?.[1];
        expect(body, name).to.match(/trunc 63 \| trimSuffix "-"/);
      }
      expect(helpers).to.include('trunc 57 | trimSuffix "-") }}');
    });

    it('labels with app.kubernetes.io/* and helm.sh/chart', () => {
      for (const label of ['name', 'instance', 'version', 'managed-by']) {
        expect(helpers).to.include(`app.kubernetes.io/${label}:`);
      }
      expect(helpers).to.include('helm.sh/chart:');
    });

    it('fails rendering with several pods on the memory store unless allowed', () => {
      expect(helpers).to.match(
        /\{\{- if and \(gt \$pods 1\) \(eq \$store "memory"\) \(not \.Values\.allowMemoryStoreWithReplicas\) \}\}\n\{\{- fail/,
      );
      expect(values.allowMemoryStoreWithReplicas).to.equal(false);
      expect(get(values, 'config.store.type')).to.equal('memory');
      expect(values.replicaCount).to.equal(1);
    });
  });

  it('has a helm test Pod that asks the admin Service for /readyz, outside every selector', () => {
    const source = readText(path.join(templatesDir, 'tests/readyz.yaml'));
    const pod = resource('tests/readyz.yaml');
    expect(pod).to.include({ apiVersion: 'v1', kind: 'Pod' });
    expect(get(pod, 'metadata.annotations')).to.include({ 'helm.sh/hook': 'test' });
    const labels = get(pod, 'metadata.labels');
    // The selector is name + instance; a different name keeps Services and budgets off it.
    expect(isMap(labels) && labels['app.kubernetes.io/name']).to.equal('TEMPLATED-test');
    expect(source).to.not.include('captcha-gateway.selectorLabels');
    expect(source).to.not.include('"captcha-gateway.labels"');
    expect(source).to.match(
      /"http:\/\/%s:%d\/readyz" \(include "captcha-gateway\.adminFullname" \.\)/,
    );
    expect(get(pod, 'spec.restartPolicy')).to.equal('Never');
  });

  it('has a NOTES.txt that says how to reach and check the gateway', () => {
    const notes = readText(path.join(chartDir, 'templates/NOTES.txt'));
    expect(notes).to.include('port-forward');
    expect(notes).to.include('/readyz');
    expect(notes).to.include('-c check-config');
  });
});
