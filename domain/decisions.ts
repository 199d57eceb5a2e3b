// The rules of a decision (approve, reject) that are about the person, not their roles: the
// requester may not decide when preventSelfApproval holds, and each person decides once.
// authorize() (domain/permissions.ts) applies them with what the database says; the deployment's
// workflow applies them again with what it has recorded itself, since decisions racing through
// the API are judged there, one at a time. Imports nothing: the workflow bundle includes it.

export interface PersonalRefusal {
  rule: 'self-approval' | 'once-per-person';
  reason: string;
}

export function personalDecisionRefusal(
  subject: string,
  verb: 'approve' | 'reject' | 'decide on',
  deployment: { preventSelfApproval: boolean; requestedBy: string; alreadyDecidedBy: Iterable<string> },
): PersonalRefusal | null {
  if (deployment.preventSelfApproval && deployment.requestedBy === subject) {
    return { rule: 'self-approval', reason: `the requester may not ${verb} their own deployment (preventSelfApproval)` };
  }
  for (const decided of deployment.alreadyDecidedBy) {
    if (decided === subject)
      return { rule: 'once-per-person', reason: `${subject} has already decided on this deployment (once per person)` };
  }
  return null;
}
