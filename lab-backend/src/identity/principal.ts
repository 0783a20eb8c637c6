/**
 * Who a session or request belongs to. Every session has exactly one owner
 * principal; caps and rate limits count per principalKey(). Principals are made
 * only by the server (identity.ts from signed cookies; workshop join codes and
 * integrations' signed launches in later issues), never taken from a request body.
 */

/** Someone using the lab on their own, known only by the random id in their browser's signed cookie. */
export interface LearnerPrincipal { kind: 'learner'; learnerId: string }
/** A participant of one instructor-led workshop. */
export interface ParticipantPrincipal { kind: 'participant'; workshopId: string; participantId: string }
/**
 * A user of an integration (an embedding site through the REST API or iframe,
 * or an LTI 1.3 platform): the integration's id plus the user id it gave us,
 * which is unique only within that integration.
 */
export interface IntegrationUserPrincipal { kind: 'integration'; integrationId: string; externalId: string }
/** The lab's operator, signed in with the admin token. There is one admin. */
export interface AdminPrincipal { kind: 'admin' }

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
    case 'learner': return `learner:${e(p.learnerId)}`;
    case 'participant': return `participant:${e(p.workshopId)}:${e(p.participantId)}`;
    case 'integration': return `integration:${e(p.integrationId)}:${e(p.externalId)}`;
    case 'admin': return 'admin';
  }
}
