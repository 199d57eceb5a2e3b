// Secrets through the API with SECRETS_BACKEND=aws: the real server and worker, the real AWS SDK,
// and a local Secrets Manager at the wire (test/support/fake-secrets-manager.ts).
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { startFakeSecretsManager, type FakeSecretsManager } from '../support/fake-secrets-manager.ts';
import { codeOf, startTestServer, type GqlResult, type TestServer } from '../support/server.ts';

const PREFIX = 'stageplane-it';
const AWS_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
] as const;
const savedEnv: Partial<Record<(typeof AWS_ENV)[number], string>> = {};

let fake: FakeSecretsManager;
let server: TestServer;
let dropDb: () => Promise<void>;
let sql: postgres.Sql;

beforeAll(async () => {
  fake = await startFakeSecretsManager({ region: 'eu-west-3' });
  // The SDK's default credential chain reads these from the process environment.
  for (const name of AWS_ENV) savedEnv[name] = process.env[name];
  process.env.AWS_ACCESS_KEY_ID = fake.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = fake.credentials.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const db = await createTestDatabase();
  dropDb = db.drop;
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  server = await startTestServer({
    databaseUrl: db.url,
    env: {
      SECRETS_BACKEND: 'aws',
      AWS_REGION: fake.region,
      AWS_ENDPOINT_URL: fake.endpoint,
      AWS_SECRET_PREFIX: PREFIX,
      SECRET_ROTATION_INTERVAL_SECONDS: '1',
    },
  });
});
afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await dropDb?.();
  await fake?.close();
  for (const name of AWS_ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

const values = new Set<string>();
const responses: string[] = [];

async function gql(query: string, variables: Record<string, unknown> = {}): Promise<GqlResult<any>> {
  const r = await server.gql(query, variables);
  responses.push(r.raw);
  return r;
}

async function reveal(secretId: string, environment: string): Promise<string> {
  const r = await server.gql(`mutation($i: SecretValueRef!) { revealSecretValue(input: $i) }`, { i: { secretId, environment } });
  expect(r.errors).toBeUndefined();
  values.add(r.data.revealSecretValue);
  return r.data.revealSecretValue;
}

const METADATA = 'isSet versionId updatedBy lastRotatedAt nextRotationAt';

describe('SECRETS_BACKEND=aws', () => {
  it('sets, reveals, rotates (now and on schedule) and deletes values in Secrets Manager', async () => {
    const project = await gql(`mutation { createProject(input: { slug: "aws-shop", name: "AWS shop" }) { id } }`);
    const projectId = project.data.createProject.id;
    const created = await gql(
      `mutation($p: ID!) { createSecret(input: { projectId: $p, name: "STRIPE_SECRET_KEY", rotationEnabled: true, rotationDays: 30 }) { id } }`,
      { p: projectId },
    );
    const secretId = created.data.createSecret.id;
    const awsName = (env: string) => `${PREFIX}/aws-shop/${env}/STRIPE_SECRET_KEY`;

    const value = `sk_live_aws_${Date.now().toString(36)}_${Math.random().toString(36).slice(2)}`;
    values.add(value);
    const set = await gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { ${METADATA} } }`, {
      i: { secretId, environment: 'staging', value },
    });
    expect(set.errors).toBeUndefined();
    const setMeta = set.data.setSecretValue;
    const stored = fake.secrets.get(awsName('staging'));
    expect(stored, 'the AWS secret').toBeDefined();
    expect(stored!.versions.get(setMeta.versionId)?.secretString).toBe(value);
    expect(stored!.tags).toEqual(expect.arrayContaining([{ Key: 'managed-by', Value: 'stageplane' }]));
    expect(await reveal(secretId, 'staging')).toBe(value);

    // A version written behind Stageplane's back (say, by a write whose transaction rolled back)
    // becomes AWSCURRENT; reveal still answers the version the metadata names.
    const client = new SecretsManagerClient({ region: fake.region, endpoint: fake.endpoint });
    const stray = `stray_${Math.random().toString(36).slice(2)}_value`;
    values.add(stray);
    await client.send(new PutSecretValueCommand({ SecretId: awsName('staging'), SecretString: stray }));
    client.destroy();
    expect(await reveal(secretId, 'staging')).toBe(value);

    // Rotate now: a new AWS version, named by the metadata.
    const rotated = await gql(`mutation($i: SecretValueRef!) { rotateSecret(input: $i) { ${METADATA} } }`, {
      i: { secretId, environment: 'staging' },
    });
    expect(rotated.errors).toBeUndefined();
    const rotatedMeta = rotated.data.rotateSecret;
    expect(rotatedMeta.versionId).not.toBe(setMeta.versionId);
    expect(rotatedMeta.lastRotatedAt).toBeTruthy();
    const current = [...fake.secrets.get(awsName('staging'))!.versions.values()].find((v) => v.stages.has('AWSCURRENT'));
    expect(current?.versionId).toBe(rotatedMeta.versionId);
    const newValue = await reveal(secretId, 'staging');
    expect(newValue).not.toBe(value);
    expect(newValue).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // On schedule, through the worker's store.
    await sql`update secret_values set next_rotation_at = now() - interval '1 minute'`;
    const deadline = Date.now() + 20_000;
    let scheduled;
    for (;;) {
      const r = await gql(`{ project(slug: "aws-shop") { environment(slug: "staging") { secrets { ${METADATA} } } } }`);
      scheduled = r.data.project.environment.secrets[0];
      if (scheduled.versionId !== rotatedMeta.versionId) break;
      if (Date.now() > deadline) throw new Error('no scheduled rotation');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(scheduled.updatedBy).toBe('system');
    expect(fake.secrets.get(awsName('staging'))!.versions.has(scheduled.versionId)).toBe(true);
    const scheduledValue = await reveal(secretId, 'staging');
    expect([value, newValue]).not.toContain(scheduledValue);

    // Delete: the metadata, then the AWS secrets of every environment.
    const devValue = `dev_${Math.random().toString(36).slice(2)}_value`;
    values.add(devValue);
    await gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
      i: { secretId, environment: 'development', value: devValue },
    });
    expect(fake.secrets.has(awsName('development'))).toBe(true);
    const deleted = await gql(`mutation($id: ID!) { deleteSecret(id: $id) }`, { id: secretId });
    expect(deleted.errors).toBeUndefined();
    expect(fake.secrets.has(awsName('staging'))).toBe(false);
    expect(fake.secrets.has(awsName('development'))).toBe(false);
    const gone = await server.gql(`mutation($i: SecretValueRef!) { revealSecretValue(input: $i) }`, {
      i: { secretId, environment: 'staging' },
    });
    responses.push(gone.raw);
    expect(codeOf(gone)).toBe('NOT_FOUND');

    // Nothing leaked: not in the log, not in a response other than revealSecretValue's.
    const logs = server.logs.join('\n');
    const everything = responses.join('\n');
    for (const v of values) {
      expect(logs.includes(v)).toBe(false);
      expect(everything.includes(v)).toBe(false);
    }
  });
});
