// The Helm chart (deploy/helm/stageplane), rendered by a real Helm (scripts/helm.sh finds or builds
// it) and every object validated offline against the Kubernetes schemas (kubernetes-models), then
// checked for what makes the release work: probes on the API's endpoints, the Service and Ingress
// reaching the API pods, every Secret key wired to its variable, the HPA on the API.
import { createTestPki } from '../support/certificates.ts';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import ts from 'typescript';
import { loadConfig } from '../../config/index.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { chart, container, env, find, helm, helmBinary, type K8sObject, processEnv, render, values } from '../support/helm.ts';

const root = join(import.meta.dirname, '../..');
const { required, everything, cloud } = values;
const scratch = mkdtempSync(join(tmpdir(), 'stageplane-helm-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The error `helm template` stops with for these values (the test fails if it renders). */
function renderError(values: string[], set: string[] = []): string {
  const args = ['template', 'stageplane', chart];
  for (const file of values) args.push('-f', file);
  for (const pair of set) args.push('--set', pair);
  const rendered = helm(args);
  expect(rendered.status, `expected helm template to fail, it rendered:\n${rendered.stdout.slice(0, 500)}`).not.toBe(0);
  return rendered.stderr;
}

// Every kind the chart renders, with the Kubernetes schema it must satisfy. A kind missing here
// fails the test, so a new template cannot skip validation. `type` names the model's TypeScript
// interface, for the unknown-field check (the schemas' validators accept any extra field).
const models: Record<string, { validate(object: K8sObject): void; type?: { module: string; name: string } }> = {
  'apps/v1/Deployment': {
    validate: (o) => new Deployment(o as never).validate(),
    type: { module: 'apps/v1/Deployment', name: 'IDeployment' },
  },
  'v1/Service': { validate: (o) => new Service(o as never).validate(), type: { module: 'v1/Service', name: 'IService' } },
  'v1/Secret': { validate: (o) => new Secret(o as never).validate(), type: { module: 'v1/Secret', name: 'ISecret' } },
  'v1/ServiceAccount': {
    validate: (o) => new ServiceAccount(o as never).validate(),
    type: { module: 'v1/ServiceAccount', name: 'IServiceAccount' },
  },
  'networking.k8s.io/v1/Ingress': {
    validate: (o) => new Ingress(o as never).validate(),
    type: { module: 'networking.k8s.io/v1/Ingress', name: 'IIngress' },
  },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    validate: (o) => new HorizontalPodAutoscaler(o as never).validate(),
    type: { module: 'autoscaling/v2/HorizontalPodAutoscaler', name: 'IHorizontalPodAutoscaler' },
  },
  'policy/v1/PodDisruptionBudget': {
    validate: (o) => new PodDisruptionBudget(o as never).validate(),
    type: { module: 'policy/v1/PodDisruptionBudget', name: 'IPodDisruptionBudget' },
  },
  // Not in kubernetes-models (a Prometheus Operator CRD): the fields the chart sets, by hand.
  'monitoring.coreos.com/v1/ServiceMonitor': { validate: validateServiceMonitor },
};

/**
 * Fields Kubernetes does not know (a misspelt `maxUnavailable` is dropped by the API server without
 * a word, and the schemas' validators accept it): each object is type-checked as an object literal
 * of its model's interface, whose excess-property check names any unknown field. The source is
 * virtual, placed in this folder so that `kubernetes-models` resolves from node_modules.
 */
function unknownFields(objects: K8sObject[]): string[] {
  const file = join(import.meta.dirname, '__rendered-manifests__.ts');
  const lines: string[] = [];
  const owners: string[] = [];
  for (const [i, object] of objects.entries()) {
    const type = models[`${object.apiVersion}/${object.kind}`]?.type;
    if (!type) continue;
    lines.push(`export const o${i}: import('kubernetes-models/${type.module}').${type.name} = ${JSON.stringify(object)};`);
    owners.push(`${object.kind} ${object.metadata.name}`);
  }
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, text, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? text : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    return `${owners[line] ?? '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

function validateServiceMonitor(o: K8sObject): void {
  const problems: string[] = [];
  if (typeof o.metadata?.name !== 'string') problems.push('metadata.name must be a string');
  const matchLabels = o.spec?.selector?.matchLabels;
  if (!matchLabels || typeof matchLabels !== 'object' || Object.keys(matchLabels).length === 0)
    problems.push('spec.selector.matchLabels must be a non-empty map');
  if (!Array.isArray(o.spec?.namespaceSelector?.matchNames)) problems.push('spec.namespaceSelector.matchNames must be a list');
  const endpoints = o.spec?.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0) problems.push('spec.endpoints must be a non-empty list');
  for (const [i, e] of (endpoints ?? []).entries()) {
    if (typeof e.port !== 'string') problems.push(`spec.endpoints[${i}].port must be a port name`);
    if (typeof e.path !== 'string' || !e.path.startsWith('/')) problems.push(`spec.endpoints[${i}].path must be a path`);
    // The CRD's pattern for durations: ^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$
    for (const field of ['interval', 'scrapeTimeout'])
      if (e[field] !== undefined && !/^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/.test(e[field]))
        problems.push(`spec.endpoints[${i}].${field} is not a duration: ${e[field]}`);
  }
  if (problems.length) throw new Error(problems.join('; '));
}

function validateAll(objects: K8sObject[]): void {
  expect(objects.length).toBeGreaterThan(0);
  for (const object of objects) {
    const key = `${object.apiVersion}/${object.kind}`;
    const model = models[key];
    expect(model, `no schema for ${key} (${object.metadata?.name})`).toBeDefined();
    expect(() => model!.validate(object), `${key} ${object.metadata?.name}`).not.toThrow();
  }
}

const kinds = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every Secret key the pods read, from env and from volume items. */
function secretReferences(deployment: K8sObject): { secret: string; key: string; optional: boolean; via: string }[] {
  const refs: { secret: string; key: string; optional: boolean; via: string }[] = [];
  for (const [name, e] of Object.entries(env(deployment))) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) refs.push({ secret: ref.name, key: ref.key, optional: ref.optional === true, via: `env ${name}` });
  }
  for (const volume of deployment.spec.template.spec.volumes ?? []) {
    for (const item of volume.secret?.items ?? [])
      refs.push({
        secret: volume.secret.secretName,
        key: item.key,
        optional: volume.secret.optional === true,
        via: `volume ${volume.name}`,
      });
  }
  return refs;
}

// Every variable the chart sets must be one Stageplane reads: config/index.ts, or the Temporal
// client's environment configuration (@temporalio/envconfig). A typo fails here.
const knownVariables = new Set([
  ...[...readFileSync(join(root, 'config/index.ts'), 'utf8').matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!),
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
]);

describe.skipIf(!helmBinary)('the Helm chart', () => {
  it('passes helm lint --strict with the required values, every option on, and the Temporal Cloud example', () => {
    for (const values of [[required], [required, everything], [cloud]]) {
      const args = ['lint', '--strict', chart, '--namespace', 'apps'];
      for (const file of values) args.push('-f', file);
      const lint = helm(args);
      expect(lint.status, `${values.join(' ')}:\n${lint.stdout}${lint.stderr}`).toBe(0);
    }
  });

  it('renders the API and the worker with the required values, every object valid', () => {
    const objects = render([required]);
    validateAll(objects);
    expect(kinds(objects)).toEqual([
      'Deployment/stageplane-api',
      'Deployment/stageplane-worker',
      'Secret/stageplane',
      'Service/stageplane-api',
      'ServiceAccount/stageplane',
    ]);
    const api = find(objects, 'Deployment', 'stageplane-api');
    const worker = find(objects, 'Deployment', 'stageplane-worker');
    expect(container(api).args).toEqual(['api']);
    expect(container(worker).args).toEqual(['worker']);
    expect(api.spec.replicas).toBe(2);

    // Restart on /healthz, route on /readyz, both on the port the server listens on (PORT).
    const port = container(api).ports.find((p: { name: string }) => p.name === 'http');
    expect(port.containerPort).toBe(Number(env(api).PORT!.value));
    expect(env(api).HOST!.value).toBe('0.0.0.0');
    expect(container(api).livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container(api).readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    // Worker mode serves no HTTP: no port, no probe that could only fail.
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe', 'ports']) expect(container(worker)[probe]).toBeUndefined();

    // The Service reaches the API's pods, not the worker's, on the API's named port.
    const service = find(objects, 'Service', 'stageplane-api');
    expect(matches(service.spec.selector, api.spec.template.metadata.labels)).toBe(true);
    expect(matches(service.spec.selector, worker.spec.template.metadata.labels)).toBe(false);
    expect(service.spec.ports[0].targetPort).toBe('http');
    // Each Deployment's selector picks its own pods only.
    expect(matches(api.spec.selector.matchLabels, api.spec.template.metadata.labels)).toBe(true);
    expect(matches(api.spec.selector.matchLabels, worker.spec.template.metadata.labels)).toBe(false);
    expect(matches(worker.spec.selector.matchLabels, api.spec.template.metadata.labels)).toBe(false);

    // Both run with what production needs (NODE_ENV=production makes JWT_SECRET mandatory).
    for (const d of [api, worker]) {
      expect(env(d).NODE_ENV!.value).toBe('production');
      expect(env(d).TEMPORAL_ADDRESS!.value).toBe('temporal-frontend.temporal.svc.cluster.local:7233');
      for (const name of Object.keys(env(d))) expect(knownVariables, `${d.metadata.name} sets ${name}`).toContain(name);
      // A read-only root filesystem with writable /tmp (tsx's cache) and DATA_DIR (the bundle cache).
      expect(container(d).securityContext.readOnlyRootFilesystem).toBe(true);
      const mounts = container(d).volumeMounts.map((m: { mountPath: string }) => m.mountPath);
      expect(mounts).toEqual(expect.arrayContaining(['/tmp', env(d).DATA_DIR!.value]));
    }
  });

  it('wires every key of its Secret to a variable, and every reference to a key that exists', () => {
    for (const values of [[required], [required, everything]]) {
      const objects = render(values);
      const secret = find(objects, 'Secret', 'stageplane');
      const keys = Object.keys(secret.stringData ?? {});
      for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
        const refs = secretReferences(deployment);
        for (const ref of refs) {
          expect(ref.secret, ref.via).toBe('stageplane');
          if (!ref.optional) expect(keys, `${deployment.metadata.name} ${ref.via}`).toContain(ref.key);
        }
        // Nothing in the Secret is left unread (a value given but never reaching the process).
        for (const key of keys)
          expect(
            refs.map((r) => r.key),
            `${deployment.metadata.name} reads ${key}`,
          ).toContain(key);
        // An env variable named like its key: the README's Configuration table is the Secret's.
        for (const ref of refs.filter((r) => r.via.startsWith('env '))) expect(ref.via).toBe(`env ${ref.key}`);
        // A changed Secret restarts the pods.
        expect(deployment.spec.template.metadata.annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    const withoutWebhook = find(render([required]), 'Secret', 'stageplane');
    expect(Object.keys(withoutWebhook.stringData!).sort()).toEqual(['DATABASE_URL', 'ENCRYPTION_KEY', 'JWT_SECRET']);
  });

  it('with existingSecret creates no Secret and reads every key from the named one', () => {
    const objects = render([], ['existingSecret=mine', 'temporal.address=temporal:7233']);
    validateAll(objects);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
      const refs = secretReferences(deployment);
      expect(refs.map((r) => r.key).sort()).toEqual(['DATABASE_URL', 'ENCRYPTION_KEY', 'JWT_SECRET', 'TEMPORAL_API_KEY', 'WEBHOOK_SECRET']);
      for (const ref of refs) expect(ref.secret).toBe('mine');
      // The ones the server can run without are optional, so a Secret without them still starts.
      expect(
        refs
          .filter((r) => r.optional)
          .map((r) => r.key)
          .sort(),
      ).toEqual(['TEMPORAL_API_KEY', 'WEBHOOK_SECRET']);
      expect(deployment.spec.template.metadata.annotations?.['checksum/secret']).toBeUndefined();
    }
  });

  it('with every option on: Ingress for WebSocket and SSE, HPA on the API, PDBs, ServiceMonitor, mTLS files', () => {
    const objects = render([required, everything]);
    validateAll(objects);
    expect(kinds(objects)).toEqual([
      'Deployment/stageplane-api',
      'Deployment/stageplane-worker',
      'HorizontalPodAutoscaler/stageplane-api',
      'Ingress/stageplane',
      'PodDisruptionBudget/stageplane-api',
      'PodDisruptionBudget/stageplane-worker',
      'Secret/stageplane',
      'Service/stageplane-api',
      'ServiceAccount/stageplane',
      'ServiceMonitor/stageplane-api',
    ]);
    const api = find(objects, 'Deployment', 'stageplane-api');
    const worker = find(objects, 'Deployment', 'stageplane-worker');
    const service = find(objects, 'Service', 'stageplane-api');

    // The HPA scales the API Deployment on CPU and owns its replica count.
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'stageplane-api');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: api.metadata.name });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 9]);
    expect(hpa.spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 65 } } },
    ]);
    expect(api.spec.replicas).toBeUndefined();
    // Utilization is a share of the request: without a CPU request the HPA cannot compute it.
    expect(container(api).resources.requests.cpu).toBeTruthy();
    expect(worker.spec.replicas).toBe(2);

    // The Ingress routes to the API Service's port, with nginx's timeouts long and buffering off.
    const ingress = find(objects, 'Ingress', 'stageplane');
    const annotations = ingress.metadata.annotations!;
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend).toEqual({ name: service.metadata.name, port: { name: service.spec.ports[0].name } });
    expect(ingress.spec.tls).toEqual([{ secretName: 'stageplane-tls', hosts: ['stageplane.example.com'] }]);

    // Each PDB covers its own Deployment's pods, and lets a one-replica Deployment drain.
    for (const [pdbName, deployment, other] of [
      ['stageplane-api', api, worker],
      ['stageplane-worker', worker, api],
    ] as const) {
      const pdb = find(objects, 'PodDisruptionBudget', pdbName);
      expect(matches(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      expect(matches(pdb.spec.selector.matchLabels, other.spec.template.metadata.labels)).toBe(false);
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.minAvailable).toBeUndefined();
    }

    // The ServiceMonitor scrapes /metrics through the API Service, in the release's namespace.
    const monitor = find(objects, 'ServiceMonitor', 'stageplane-api');
    expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels!)).toBe(true);
    expect(monitor.spec.namespaceSelector.matchNames).toEqual(['apps']);
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    expect(monitor.metadata.labels!.release).toBe('prometheus');

    // mTLS: each *_PATH variable names a file the Secret volume puts there, from a key it has.
    const secret = find(objects, 'Secret', 'stageplane');
    for (const deployment of [api, worker]) {
      const vars = env(deployment);
      expect(vars.TEMPORAL_TLS!.value).toBe('true');
      expect(vars.TEMPORAL_TLS_SERVER_NAME!.value).toBe('temporal.example.internal');
      expect(vars.OTEL_SERVICE_NAME).toEqual({ name: 'OTEL_SERVICE_NAME', value: 'stageplane' });
      const mount = container(deployment).volumeMounts.find((m: { name: string }) => m.name === 'temporal-tls');
      const volume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'temporal-tls');
      expect(volume.secret.secretName).toBe('stageplane');
      const files = Object.fromEntries(
        volume.secret.items.map((i: { key: string; path: string }) => [`${mount.mountPath}/${i.path}`, i.key]),
      );
      const expected = {
        TEMPORAL_TLS_CLIENT_CERT_PATH: '-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n',
        TEMPORAL_TLS_CLIENT_KEY_PATH: '-----BEGIN PRIVATE KEY-----\ntest\n-----END PRIVATE KEY-----\n',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n',
      };
      for (const [variable, pem] of Object.entries(expected)) {
        const key = files[vars[variable]!.value!];
        expect(key, `${variable}=${vars[variable]!.value} is not a mounted file`).toBeDefined();
        expect(secret.stringData![key]).toBe(pem);
      }
      expect(mount.readOnly).toBe(true);
    }
  });

  it('renders the Temporal Cloud example: API key from the Secret, TLS on, no certificate files', () => {
    const objects = render([cloud]);
    validateAll(objects);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
      const vars = env(deployment);
      expect(vars.TEMPORAL_ADDRESS!.value).toBe('us-east-1.aws.api.temporal.io:7233');
      expect(vars.TEMPORAL_NAMESPACE!.value).toBe('stageplane.a1b2c');
      expect(vars.TEMPORAL_API_KEY!.valueFrom!.secretKeyRef).toEqual({ name: 'stageplane', key: 'TEMPORAL_API_KEY', optional: true });
      expect(vars.TEMPORAL_TLS!.value).toBe('true');
      for (const name of ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'])
        expect(vars[name], name).toBeUndefined();
      expect(deployment.spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('temporal-tls');
      expect(vars.PUBLIC_URL!.value).toBe('https://stageplane.example.com');
    }
    expect(find(objects, 'Ingress', 'stageplane').spec.rules[0].host).toBe('stageplane.example.com');
  });

  it('mounts the certificates of temporal.tls.existingSecret under its own keys', () => {
    const objects = render(
      [required],
      ['temporal.tls.enabled=true', 'temporal.tls.existingSecret=temporal-client', 'temporal.tls.keys.serverCaCert='],
    );
    validateAll(objects);
    const api = find(objects, 'Deployment', 'stageplane-api');
    const volume = api.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'temporal-tls');
    expect(volume.secret).toEqual({
      secretName: 'temporal-client',
      defaultMode: 0o440,
      items: [
        { key: 'tls.crt', path: 'client.crt' },
        { key: 'tls.key', path: 'client.key' },
      ],
    });
    expect(env(api).TEMPORAL_TLS_CLIENT_CERT_PATH!.value).toBe('/etc/stageplane/temporal-tls/client.crt');
    expect(env(api).TEMPORAL_TLS_SERVER_CA_CERT_PATH).toBeUndefined();
    // The certificates are not copied into the chart's Secret.
    expect(Object.keys(find(objects, 'Secret', 'stageplane').stringData!)).not.toContain('TEMPORAL_TLS_CLIENT_CERT');
  });

  it('stops with a message naming the value when a release could not work', () => {
    const withRequired = (...set: string[]) => renderError([required], set);
    // The chart's defaults alone: no Temporal, no database, no secrets.
    expect(renderError([])).toContain('temporal.address is required (TEMPORAL_ADDRESS');
    expect(renderError([], ['temporal.address=t:7233'])).toContain('database.url is required (DATABASE_URL');
    expect(withRequired('temporal.address=temporal')).toContain('temporal.address must be host:port');
    expect(withRequired('database.url=mysql://db/x')).toContain('database.url must be a postgres://');
    expect(withRequired('secrets.jwtSecret=short')).toContain('secrets.jwtSecret is required and must be at least 32 characters');
    expect(withRequired('secrets.encryptionKey=')).toContain('secrets.encryptionKey is required with secretsBackend local');
    expect(withRequired('secrets.webhookSecret=short')).toContain('secrets.webhookSecret must be at least 16 characters');
    expect(withRequired('secretsBackend=vault')).toContain('secretsBackend must be local or aws');
    expect(withRequired('secretsBackend=aws')).toContain('aws.region is required when secretsBackend is aws');
    expect(withRequired('temporal.tls.enabled=true', 'temporal.tls.clientCert=x')).toContain(
      'temporal.tls.clientCert and temporal.tls.clientKey go together',
    );
    expect(renderError([cloud], ['temporal.tls.keys.clientCert=tls.crt'])).toContain(
      'temporal.tls.keys.clientCert and temporal.tls.keys.clientKey go together',
    );
    expect(withRequired('api.autoscaling.enabled=true', 'api.autoscaling.minReplicas=5', 'api.autoscaling.maxReplicas=2')).toContain(
      'api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas',
    );
    expect(withRequired('oidc.issuer=https://login.example.com/')).toContain('oidc.audience is required with oidc.issuer');
  });

  it('sets no field Kubernetes does not know, in any of the renders above', () => {
    const objects = [
      ...render([required]),
      ...render([required, everything]),
      ...render([cloud]),
      ...render([required], ['temporal.tls.enabled=true', 'temporal.tls.existingSecret=temporal-client']),
    ];
    expect(unknownFields(objects)).toEqual([]);
    // The check itself: a misspelt field is named, with its object.
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget')!;
    const misspelt = { ...pdb, spec: { ...pdb.spec, maxUnavailabel: 1 } };
    expect(unknownFields([misspelt])).toEqual([
      expect.stringMatching(/^PodDisruptionBudget stageplane-api: .*maxUnavailabel.*does not exist/),
    ]);
  });

  it("sets an environment Stageplane's own configuration accepts, as the pods would see it", () => {
    // Start-up reads and checks the Temporal TLS files (dates, key matching its certificate):
    // the pods find real ones where the chart mounts them; here they are a test PKI's, put at the
    // paths the chart sets (that those paths are the mounted keys is checked above).
    const pki = createTestPki();
    const realFile: Record<string, string> = {
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    };
    for (const values of [[required], [required, everything]]) {
      const objects = render(values);
      const secret = find(objects, 'Secret', 'stageplane');
      for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
        const podEnv = processEnv(deployment, secret);
        for (const [name, file] of Object.entries(realFile)) if (podEnv[name]) podEnv[name] = file;
        const config = loadConfig(podEnv);
        expect(config.env).toBe('production');
        expect(config.databaseUrl).toBe('postgres://stageplane:stageplane@postgres.example.internal:5432/stageplane');
        expect(config.temporal.address).toBe('temporal-frontend.temporal.svc.cluster.local:7233');
        expect(config.dataDir).toBe('/var/lib/stageplane');
        if (deployment.metadata.name === 'stageplane-api') expect([config.host, config.port]).toEqual(['0.0.0.0', 4000]);
        if (values.includes(everything)) {
          // Sign-in, the outbound allow-list and the delivery timeout reach both processes.
          expect(config.oidc).toEqual({
            issuer: 'https://login.example.com/',
            audience: 'stageplane',
            rolesClaim: 'roles',
            groupsClaim: 'teams',
            consoleClientId: 'stageplane-console',
          });
          expect(config.outbound.allowCidrs).toEqual(['10.20.0.0/16']);
          expect(config.notify.timeoutMs).toBe(5000);
        } else {
          expect(config.oidc).toBeNull();
          expect(config.outbound.allowCidrs).toEqual([]);
        }
      }
    }
  });

  it('with the aws backend needs no ENCRYPTION_KEY and passes the region', () => {
    const objects = render([required], ['secretsBackend=aws', 'aws.region=eu-west-1', 'secrets.encryptionKey=']);
    validateAll(objects);
    const vars = env(find(objects, 'Deployment', 'stageplane-worker'));
    expect(vars.SECRETS_BACKEND!.value).toBe('aws');
    expect(vars.AWS_REGION!.value).toBe('eu-west-1');
    expect(vars.ENCRYPTION_KEY).toBeUndefined();
  });
});

describe('scripts/helm.sh', () => {
  const script = join(root, 'scripts/helm.sh');
  // PATH without any helm: only the shell tools the script uses.
  const run = (env: Record<string, string>) =>
    spawnSync('bash', [script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: scratch, ...env } });
  const fakeHelm = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'helm'), '#!/bin/sh\n');
    chmodSync(join(dir, 'helm'), 0o755);
    return join(dir, 'helm');
  };

  it('uses HELM when it is an executable, and fails naming HELM when it is not', () => {
    const given = fakeHelm(join(scratch, 'given'));
    expect(run({ HELM: given })).toMatchObject({ status: 0, stdout: `${given}\n` });
    const missing = run({ HELM: join(scratch, 'nothing-here') });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`HELM=${join(scratch, 'nothing-here')} is not an executable file`);
  });

  it('prefers helm on PATH, then the cached build, without building again', () => {
    const cache = join(scratch, 'cache');
    const cached = fakeHelm(join(cache, 'helm-v3.22.0'));
    // GO=false: a build attempt would fail the run, so status 0 proves none was made.
    expect(run({ STAGEPLANE_CACHE_DIR: cache, GO: '/bin/false' })).toMatchObject({ status: 0, stdout: `${cached}\n` });
    const onPath = fakeHelm(join(scratch, 'bin'));
    expect(run({ STAGEPLANE_CACHE_DIR: cache, PATH: `${join(scratch, 'bin')}:/usr/bin:/bin` }).stdout).toBe(`${onPath}\n`);
    // Another version is another cache entry: it would be built (and here fails, GO=false).
    const other = run({ STAGEPLANE_CACHE_DIR: cache, GO: '/bin/false', HELM_VERSION: 'v3.0.0' });
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain('Building Helm v3.0.0');
  });
});
