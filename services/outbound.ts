// The set-time half of the outbound-URL rule (domain/outbound-url.ts): a URL the worker will
// call is refused with BAD_USER_INPUT when it is set, before anything is written. The call-time
// half is workflows/activities/outbound-http.ts.
import { badInput } from '../domain/errors.ts';
import { outboundUrlRefusal, PERMISSIVE_DEVELOPMENT_RULE } from '../domain/outbound-url.ts';
import type { ServiceDeps } from './scope.ts';

/** Throws BAD_USER_INPUT naming `field` when the worker may not call `url`. */
export function assertOutboundUrl(services: ServiceDeps, url: string, field: string): void {
  const refusal = outboundUrlRefusal(url, services.outbound ?? PERMISSIVE_DEVELOPMENT_RULE);
  if (refusal) throw badInput(`${field} ${refusal}`, field);
}
