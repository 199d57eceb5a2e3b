// Helm for the chart's tests: the binary scripts/helm.sh finds or builds, and `helm template`
// output parsed into objects (by Helm's own YAML reader: no YAML package is installed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
export const chart = join(root, 'deploy/helm/stageplane');
const fixtures = join(root, 'test/fixtures/helm');
export const values = {
  /** The least a release needs. */
  required: join(fixtures, 'required-values.yaml'),
  /** Every optional object on (use with required). */
  everything: join(fixtures, 'everything-values.yaml'),
  /** The chart's Temporal Cloud example, complete on its own. */
  cloud: join(chart, 'values-temporal-cloud.yaml'),
};

// Helm is built once from its Go module (minutes the first time, then cached). Without Go there
// is no Helm: the tests skip with the reason locally, but fail in CI, whose .ci/run builds it.
const found = spawnSync('bash', [join(root, 'scripts/helm.sh')], { encoding: 'utf8', timeout: 15 * 60_000 });
export const helmBinary = found.status === 0 ? found.stdout.trim() : null;
if (!helmBinary) {
  const reason = `helm is not available (scripts/helm.sh: ${found.stderr.trim() || found.error?.message})`;
  if (process.env.CI) throw new Error(reason);
  console.warn(`skipping the Helm chart tests: ${reason}`);
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Rendered manifests: the tests check them field by field.
  spec?: any;
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}

export interface SecretKeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

export function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(helmBinary!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `helm template` of the chart (release `stageplane`, namespace `apps`) with these values files and --set pairs. */
export function render(files: string[], set: string[] = []): K8sObject[] {
  const args = ['template', 'stageplane', chart, '--namespace', 'apps'];
  for (const file of files) args.push('-f', file);
  for (const pair of set) args.push('--set', pair);
  const rendered = helm(args);
  if (rendered.status !== 0) throw new Error(`helm template failed: ${rendered.stderr}`);
  // Parsed by a helper chart with Helm's fromYaml (sigs.k8s.io/yaml, as the API server reads YAML).
  const dir = mkdtempSync(join(tmpdir(), 'stageplane-helm-'));
  try {
    const file = join(dir, 'manifests.yaml');
    writeFileSync(file, rendered.stdout);
    const converted = helm(['template', 'convert', join(fixtures, 'yaml-to-json'), '--set-file', `manifests=${file}`]);
    if (converted.status !== 0) throw new Error(`the rendered manifests are not YAML: ${converted.stderr}`);
    const json = converted.stdout
      .split('\n')
      .filter((line) => !line.startsWith('---') && !line.startsWith('#'))
      .join('\n');
    return (JSON.parse(json) as { items: K8sObject[] }).items;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return object;
}

export const container = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];

export const env = (deployment: K8sObject): Record<string, { value?: string; valueFrom?: { secretKeyRef?: SecretKeyRef } }> =>
  Object.fromEntries(container(deployment).env.map((e: { name: string }) => [e.name, e]));

/** The environment the kubelet would give the container: values as they are, Secret references resolved. */
export function processEnv(deployment: K8sObject, secret: K8sObject): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, e] of Object.entries(env(deployment))) {
    const ref = e.valueFrom?.secretKeyRef;
    const value = ref ? secret.stringData?.[ref.key] : e.value;
    if (ref && value === undefined && !ref.optional) throw new Error(`${name}: key ${ref.key} is not in Secret ${secret.metadata.name}`);
    if (value !== undefined) resolved[name] = value;
  }
  return resolved;
}
