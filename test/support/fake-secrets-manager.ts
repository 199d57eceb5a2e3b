// A local AWS Secrets Manager for tests, at the wire: a node:http server on 127.0.0.1 that speaks
// the AWS JSON 1.1 protocol (POST /, `X-Amz-Target: secretsmanager.<Operation>`,
// `Content-Type: application/x-amz-json-1.1`), so the real SDK client serialises, signs, retries
// and maps errors for real against it.
//
// Operations: CreateSecret, PutSecretValue, GetSecretValue, DeleteSecret (what secrets/aws.ts
// uses), plus DescribeSecret and ListSecretVersionIds for tests to look at the result. Semantics
// as documented by AWS: ClientRequestToken is the VersionId and makes writes idempotent (same
// token and value: ignored; same token, other value: ResourceExistsException); AWSCURRENT moves
// to a new version and AWSPREVIOUS to the one it left; versions without labels stay readable by
// id; ResourceNotFoundException / ResourceExistsException / InvalidRequestException as
// `{"__type": ..., "message": ...}` with HTTP 400.
//
// Every request's SigV4 signature is verified against `credentials` (a bad one is refused as AWS
// does), every request is recorded, and failNext() makes the next requests fail with a 5xx.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTag {
  Key: string;
  Value: string;
}

export interface FakeVersion {
  versionId: string;
  secretString: string;
  createdDate: number; // epoch seconds
  stages: Set<string>;
}

export interface FakeSecret {
  arn: string;
  name: string;
  description: string | undefined;
  tags: FakeTag[];
  createdDate: number;
  /** Set when deleted with a recovery window: the secret then refuses most operations. */
  deletedDate: number | undefined;
  versions: Map<string, FakeVersion>;
}

export interface RecordedRequest {
  operation: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  status: number;
  errorType: string | undefined;
}

export interface FakeSecretsManager {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Every request received, in order (including refused and injected failures). */
  requests: RecordedRequest[];
  /** Live state, by secret name. */
  secrets: Map<string, FakeSecret>;
  /**
   * The next `count` requests (of `operation` only, when given) answer `status` (default 500,
   * InternalServiceError). With afterApplying, each is carried out first and only its response
   * is lost, as when a connection drops after the server acted.
   */
  failNext(count: number, options?: { status?: number; afterApplying?: boolean; operation?: string }): void;
  /** Requests of one operation. */
  requestsOf(operation: string): RecordedRequest[];
  clearRequests(): void;
  close(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const ACCOUNT = '123456789012';
const STAGE_CURRENT = 'AWSCURRENT';
const STAGE_PREVIOUS = 'AWSPREVIOUS';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

export async function startFakeSecretsManager(
  options: { region?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } = {},
): Promise<FakeSecretsManager> {
  const region = options.region ?? 'us-east-1';
  const credentials = options.credentials ?? { accessKeyId: 'AKIDFAKESECRETSMGR01', secretAccessKey: 'fake-secret-access-key-for-tests' };
  const secrets = new Map<string, FakeSecret>();
  const requests: RecordedRequest[] = [];
  let failures: { remaining: number; status: number; afterApplying: boolean; operation: string | undefined } = {
    remaining: 0,
    status: 500,
    afterApplying: false,
    operation: undefined,
  };

  const now = () => Date.now() / 1000;

  function find(secretId: unknown): FakeSecret {
    if (typeof secretId !== 'string' || secretId === '') throw new ApiError('InvalidParameterException', 'SecretId is required.');
    const s = secrets.get(secretId) ?? [...secrets.values()].find((x) => x.arn === secretId);
    if (!s) throw new ApiError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return s;
  }
  function live(secretId: unknown): FakeSecret {
    const s = find(secretId);
    if (s.deletedDate !== undefined) {
      throw new ApiError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");
    }
    return s;
  }
  function token(body: Record<string, unknown>): string {
    const t = body.ClientRequestToken ?? randomUUID();
    if (typeof t !== 'string' || t.length < 32 || t.length > 64) {
      throw new ApiError('InvalidParameterException', 'ClientRequestToken must be 32 to 64 characters.');
    }
    return t;
  }
  function secretString(body: Record<string, unknown>): string {
    const v = body.SecretString;
    if (typeof v !== 'string') throw new ApiError('InvalidParameterException', 'SecretString is required.');
    const bytes = Buffer.byteLength(v, 'utf8');
    if (bytes < 1 || bytes > 65536) {
      throw new ApiError('InvalidParameterException', 'SecretString must be 1 to 65536 bytes.');
    }
    return v;
  }
  /** Gives `stages` to version v, taking each from whichever version had it; AWSCURRENT's old holder gets AWSPREVIOUS. */
  function label(s: FakeSecret, v: FakeVersion, stages: string[]) {
    for (const stage of stages) {
      for (const other of s.versions.values()) {
        if (other === v || !other.stages.has(stage)) continue;
        other.stages.delete(stage);
        if (stage === STAGE_CURRENT) {
          for (const o of s.versions.values()) o.stages.delete(STAGE_PREVIOUS);
          other.stages.add(STAGE_PREVIOUS);
        }
      }
      v.stages.add(stage);
      if (stage === STAGE_CURRENT) v.stages.delete(STAGE_PREVIOUS);
    }
  }
  function addVersion(s: FakeSecret, versionId: string, value: string, stages: string[]): FakeVersion {
    const v: FakeVersion = { versionId, secretString: value, createdDate: now(), stages: new Set() };
    s.versions.set(versionId, v);
    label(s, v, stages);
    return v;
  }

  const operations: Record<string, (body: Record<string, unknown>) => Record<string, unknown>> = {
    CreateSecret(body) {
      const name = body.Name;
      if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
        throw new ApiError('InvalidParameterException', 'Invalid name.');
      }
      const versionId = token(body);
      const value = secretString(body);
      const existing = secrets.get(name);
      if (existing) {
        if (existing.deletedDate !== undefined) {
          throw new ApiError(
            'InvalidRequestException',
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
          );
        }
        // A retry of the very request that created it: ignored (idempotent).
        const same = existing.versions.get(versionId);
        if (same && same.secretString === value) return { ARN: existing.arn, Name: name, VersionId: versionId };
        throw new ApiError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      }
      const s: FakeSecret = {
        arn: `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
        name,
        description: typeof body.Description === 'string' ? body.Description : undefined,
        tags: Array.isArray(body.Tags) ? (body.Tags as FakeTag[]).map((t) => ({ Key: t.Key, Value: t.Value })) : [],
        createdDate: now(),
        deletedDate: undefined,
        versions: new Map(),
      };
      secrets.set(name, s);
      addVersion(s, versionId, value, [STAGE_CURRENT]);
      return { ARN: s.arn, Name: name, VersionId: versionId };
    },

    PutSecretValue(body) {
      const s = live(body.SecretId);
      const versionId = token(body);
      const value = secretString(body);
      const stages = Array.isArray(body.VersionStages) ? (body.VersionStages as string[]) : [STAGE_CURRENT];
      const existing = s.versions.get(versionId);
      if (existing) {
        if (existing.secretString === value) {
          return { ARN: s.arn, Name: s.name, VersionId: versionId, VersionStages: [...existing.stages] };
        }
        throw new ApiError('ResourceExistsException', 'A resource with the ID you requested already exists.');
      }
      const v = addVersion(s, versionId, value, stages);
      return { ARN: s.arn, Name: s.name, VersionId: versionId, VersionStages: [...v.stages] };
    },

    GetSecretValue(body) {
      const s = live(body.SecretId);
      const versionId = body.VersionId;
      const stage = body.VersionStage;
      let v: FakeVersion | undefined;
      if (typeof versionId === 'string') {
        v = s.versions.get(versionId);
        if (!v || (typeof stage === 'string' && !v.stages.has(stage))) {
          throw new ApiError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
          );
        }
      } else {
        const wanted = typeof stage === 'string' ? stage : STAGE_CURRENT;
        v = [...s.versions.values()].find((x) => x.stages.has(wanted));
        if (!v) {
          throw new ApiError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for staging label: ${wanted}`,
          );
        }
      }
      return {
        ARN: s.arn,
        Name: s.name,
        VersionId: v.versionId,
        SecretString: v.secretString,
        VersionStages: [...v.stages],
        CreatedDate: v.createdDate,
      };
    },

    DeleteSecret(body) {
      const s = find(body.SecretId);
      const force = body.ForceDeleteWithoutRecovery === true;
      if (force && body.RecoveryWindowInDays !== undefined) {
        throw new ApiError(
          'InvalidParameterException',
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      if (force) {
        secrets.delete(s.name);
        return { ARN: s.arn, Name: s.name, DeletionDate: now() };
      }
      if (s.deletedDate !== undefined) {
        throw new ApiError('InvalidRequestException', 'The secret is already scheduled for deletion.');
      }
      const days = typeof body.RecoveryWindowInDays === 'number' ? body.RecoveryWindowInDays : 30;
      s.deletedDate = now() + days * 86400;
      return { ARN: s.arn, Name: s.name, DeletionDate: s.deletedDate };
    },

    DescribeSecret(body) {
      const s = find(body.SecretId);
      const versionIdsToStages: Record<string, string[]> = {};
      for (const v of s.versions.values()) if (v.stages.size > 0) versionIdsToStages[v.versionId] = [...v.stages];
      return {
        ARN: s.arn,
        Name: s.name,
        ...(s.description !== undefined ? { Description: s.description } : {}),
        Tags: s.tags,
        VersionIdsToStages: versionIdsToStages,
        CreatedDate: s.createdDate,
        ...(s.deletedDate !== undefined ? { DeletedDate: s.deletedDate } : {}),
      };
    },

    ListSecretVersionIds(body) {
      const s = find(body.SecretId);
      const all = body.IncludeDeprecated === true;
      return {
        ARN: s.arn,
        Name: s.name,
        Versions: [...s.versions.values()]
          .filter((v) => all || v.stages.size > 0)
          .map((v) => ({ VersionId: v.versionId, VersionStages: [...v.stages], CreatedDate: v.createdDate })),
      };
    },
  };

  /** Verifies AWS Signature Version 4 as Secrets Manager would; throws the error AWS answers. */
  function verifySignature(req: IncomingMessage, headers: Record<string, string>, body: Buffer) {
    const auth = headers.authorization;
    const m = auth?.match(
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/,
    );
    if (!m) throw new ApiError('IncompleteSignatureException', 'Authorization header requires a SigV4 signature.');
    const [, accessKeyId, date, scopeRegion, service, signedHeaderList, signature] = m as unknown as string[];
    if (accessKeyId !== credentials.accessKeyId) {
      throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    if (scopeRegion !== region || service !== 'secretsmanager') {
      throw new ApiError(
        'InvalidSignatureException',
        `Credential should be scoped to a valid region and service (${region}/secretsmanager).`,
      );
    }
    const amzDate = headers['x-amz-date'] ?? '';
    const when = amzDate.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
    if (!when || !amzDate.startsWith(date!)) throw new ApiError('IncompleteSignatureException', 'X-Amz-Date is missing or malformed.');
    const t = Date.UTC(+when[1]!, +when[2]! - 1, +when[3]!, +when[4]!, +when[5]!, +when[6]!);
    if (Math.abs(Date.now() - t) > 15 * 60_000) throw new ApiError('InvalidSignatureException', 'Signature expired.');
    const signedHeaders = signedHeaderList!.split(';');
    if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
      throw new ApiError('InvalidSignatureException', 'Host and X-Amz-Date must be signed.');
    }
    const canonicalHeaders = signedHeaders.map((h) => `${h}:${(headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    const canonicalQuery = query.split('&').filter(Boolean).sort().join('&');
    const payloadHash = headers['x-amz-content-sha256'] ?? sha256hex(body);
    const canonicalRequest = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join('\n');
    const scope = `${date}/${region}/secretsmanager/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
    let key = hmac(`AWS4${credentials.secretAccessKey}`, date!);
    for (const part of [region, 'secretsmanager', 'aws4_request']) key = hmac(key, part);
    const expected = createHmac('sha256', key).update(stringToSign).digest();
    const given = Buffer.from(signature!, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const target = headers['x-amz-target'] ?? '';
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target;
    let body: Record<string, unknown> = {};
    const record: RecordedRequest = { operation, headers, body, status: 0, errorType: undefined };
    requests.push(record);
    const send = (status: number, payload: Record<string, unknown>) => {
      record.status = status;
      const text = JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': JSON_CONTENT_TYPE,
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': randomUUID(),
      });
      res.end(text);
    };
    const sendError = (e: ApiError) => {
      record.errorType = e.type;
      send(e.status, { __type: e.type, message: e.message });
    };
    try {
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/')
        throw new ApiError('UnknownOperationException', 'POST / only.', 404);
      if (!(headers['content-type'] ?? '').startsWith(JSON_CONTENT_TYPE)) {
        throw new ApiError('SerializationException', `Content-Type must be ${JSON_CONTENT_TYPE}.`);
      }
      try {
        const parsed: unknown = raw.length ? JSON.parse(raw.toString('utf8')) : {};
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
        record.body = body;
      } catch {
        throw new ApiError('SerializationException', 'The request body is not a JSON object.');
      }
      verifySignature(req, headers, raw);
      const op = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
      if (!target.startsWith('secretsmanager.') || !op) throw new ApiError('UnknownOperationException', `Unknown operation ${target}.`);
      if (failures.remaining > 0 && (failures.operation === undefined || failures.operation === operation)) {
        failures.remaining -= 1;
        if (failures.afterApplying) {
          try {
            op(body);
          } catch {
            // its outcome is lost either way
          }
        }
        throw new ApiError('InternalServiceError', 'Injected failure.', failures.status);
      }
      send(200, op(body));
    } catch (e) {
      if (e instanceof ApiError) sendError(e);
      else sendError(new ApiError('InternalServiceError', 'Fake failure: ' + String(e), 500));
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    credentials,
    requests,
    secrets,
    failNext(count, opts = {}) {
      failures = { remaining: count, status: opts.status ?? 500, afterApplying: opts.afterApplying ?? false, operation: opts.operation };
    },
    requestsOf(operation) {
      return requests.filter((r) => r.operation === operation);
    },
    clearRequests() {
      requests.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
