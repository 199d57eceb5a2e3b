// POST /webhooks/push: a GitHub `push` event, signed with WEBHOOK_SECRET, has the effect of
// recordPush for the project whose slug is repository.name (compared case-insensitively).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { eq } from 'drizzle-orm';
import { projects } from '../db/schema/index.ts';
import { AppError } from '../domain/errors.ts';
import type { Principal } from '../domain/permissions.ts';
import { parseInput, RecordPushInputSchema } from '../domain/validation.ts';
import { recordPush } from '../services/deployments.ts';
import { archiveBranchPreview } from '../services/previews.ts';
import type { Services } from '../services/scope.ts';

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
};

/**
 * The webhook acts as GitHub with the DEVELOPER role recordPush needs, bound to the one project its
 * repository names: a signature made with WEBHOOK_SECRET is the repository's own, so it reaches
 * that project whether INTERNAL or PRIVATE (v2), and no other.
 */
const webhookPrincipal = (projectId: string): Principal =>
  Object.freeze<Principal>({ subject: 'webhook:github', roles: [], kind: 'api-token', boundTo: { [projectId]: ['DEVELOPER'] } });

/** Sends the answer and says the request was handled (the route's boolean). */
const answered = (res: ServerResponse, status: number, body: unknown): true => {
  send(res, status, body);
  return true;
};

export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function pushWebhookRoute(services: Services) {
  return async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> => {
    if ((req.url ?? '').split('?')[0] !== '/webhooks/push') return false;
    const secret = services.config.webhookSecret;
    if (!secret) return answered(res, 404, { error: 'the push webhook is not configured (WEBHOOK_SECRET)' });
    if (req.method !== 'POST') return answered(res, 405, { error: 'POST only' });
    const signature = req.headers['x-hub-signature-256'];
    if (!verifySignature(secret, body, Array.isArray(signature) ? signature[0] : signature)) {
      return answered(res, 401, { error: 'bad or missing X-Hub-Signature-256' });
    }
    const event = req.headers['x-github-event'];
    if (event === 'ping') return answered(res, 200, { ok: true });
    // A repository webhook may be subscribed to more than pushes: answer them, act on none.
    if (event !== undefined && event !== 'push') return answered(res, 202, { ignored: `not a push event (${String(event)})` });
    let payload: {
      ref?: unknown;
      after?: unknown;
      deleted?: unknown;
      head_commit?: { message?: unknown; author?: { name?: unknown } } | null;
      repository?: { name?: unknown };
    };
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return answered(res, 400, { error: 'the body is not JSON' });
    }
    const ref = typeof payload.ref === 'string' ? payload.ref : '';
    if (!ref.startsWith('refs/heads/')) return answered(res, 202, { ignored: 'not a branch push' });
    // Slugs are lower case; GitHub keeps the repository's own case (`Shop-API` is project shop-api).
    const slug = typeof payload.repository?.name === 'string' ? payload.repository.name.toLowerCase() : '';
    const [project] = await services.database.db.select().from(projects).where(eq(projects.slug, slug));
    if (payload.deleted === true) {
      // A deleted branch records no release; its preview, if any, is archived.
      if (!project) return answered(res, 202, { ignored: 'branch deletion' });
      const archived = await archiveBranchPreview(
        { db: services.database.db, actor: webhookPrincipal(project.id), services },
        project.id,
        ref.slice('refs/heads/'.length),
      );
      return answered(res, 202, { ignored: 'branch deletion', archivedPreview: archived });
    }
    if (!project) return answered(res, 404, { error: `no project ${JSON.stringify(slug)}` });
    const message = payload.head_commit?.message;
    const author = payload.head_commit?.author?.name;
    try {
      const input = parseInput(
        RecordPushInputSchema,
        {
          projectId: project.id,
          branch: ref.slice('refs/heads/'.length),
          commitSha: typeof payload.after === 'string' ? payload.after : '',
          message: typeof message === 'string' ? message.slice(0, 10_000) : null,
          author: typeof author === 'string' ? author.slice(0, 200) : null,
        },
        'input',
      );
      const result = await recordPush({ db: services.database.db, actor: webhookPrincipal(project.id), services }, project.id, input);
      send(res, 202, { release: result.releaseId, deployments: result.deploymentIds });
    } catch (error) {
      if (error instanceof AppError) {
        send(res, error.code === 'BAD_USER_INPUT' ? 400 : error.code === 'NOT_FOUND' ? 404 : 409, {
          error: error.message,
          code: error.code,
        });
      } else throw error;
    }
    return true;
  };
}
