/**
 * Who a session or request belongs to. Every session has exactly one owner
 * principal; caps and rate limits count per principalKey(). Principals are made
 * only by the server (identity.ts from signed cookies; workshop join codes and
 * integrations' signed launches in later issues), never taken from a request body.
 */

/** Someone using the lab on their own, known only by the random id in their browser's signed cookie. */
export interface LearnerPrincipal {
  kind: 'learner';
  learnerId: string;
}
/** A participant of one instructor-led workshop. */
export interface ParticipantPrincipal {
  kind: 'participant';
  workshopId: string;
  participantId: string;
}
/**
 * A user of an integration (an embedding site through the REST API or iframe,
 * or an LTI 1.3 platform): the integration's id plus the user id it gave us,
 * which is unique only within that integration.
 */
export interface IntegrationUserPrincipal {
  kind: 'integration';
  integrationId: string;
  externalId: string;
}
/** The lab's operator, signed in with the admin token. There is one admin. */
export interface AdminPrincipal {
  kind: 'admin';
}

export type Principal = LearnerPrincipal | ParticipantPrincipal | IntegrationUserPrincipal | AdminPrincipal;

/**
 * A stable string per principal, for caps, rate limits, maps and logs:
 * `learner:<id>`, `participant:<workshop>:<participant>`,
 * `integration:<integration>:<external id>`, `admin`. Each part is
 * percent-encoded, so no two principals share a key (a `:` inside an id cannot
 * shift where one part ends), and the key holds only URL-safe characters.
 */
export function principalKey(p: Principal): string {
  const e = encodeURIComponent;
  switch (p.kind) {
    case 'learner':
      return `learner:${e(p.learnerId)}`;
    case 'participant':
      return `participant:${e(p.workshopId)}:${e(p.participantId)}`;
    case 'integration':
      return `integration:${e(p.integrationId)}:${e(p.externalId)}`;
    case 'admin':
      return 'admin';
  }
}

/**
 * The Store's learner record for a principal: its id is principalKey(p) (so
 * the store and every cap agree on who is who), its kind the store's name for
 * the principal's kind, and an integration user's outside identity is kept as
 * `external` (issuer = the integration, subject = its user id).
 */
export function learnerRecordOf(p: Principal): { id: string; kind: 'anonymous' | 'participant' | 'embedded' | 'admin'; external?: { issuer: string; subject: string } } {
  const id = principalKey(p);
  switch (p.kind) {
    case 'learner':
      return { id, kind: 'anonymous' };
    case 'participant':
      return { id, kind: 'participant' };
    case 'integration':
      return { id, kind: 'embedded', external: { issuer: p.integrationId, subject: p.externalId } };
    case 'admin':
      return { id, kind: 'admin' };
  }
}

/** The anonymous learner a principalKey() names, or null for any other key. */
export function learnerFromKey(key: string): LearnerPrincipal | null {
  const m = /^learner:([^:]+)$/.exec(key);
  return m ? { kind: 'learner', learnerId: decodeURIComponent(m[1]) } : null;
}
