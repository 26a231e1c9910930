/**
 * Attribute names openrtc adds to LiveKit's agent protocol. The worker writes them on its
 * availability answers and reads the local flag on a job; the local dispatcher stamps that flag and
 * reads the rejection. Both sides take the names from here, so they cannot drift apart.
 */

/** Participant attribute: the canonical tenant of an accepted job. */
export const TENANT_ATTRIBUTE = 'tenant';
/** Participant attribute: the rejection reason code, so a dispatcher can report why. */
export const REJECT_REASON_ATTRIBUTE = 'openrtc.reject_reason';
/** Participant attribute: a secret-free explanation of the rejection. */
export const REJECT_MESSAGE_ATTRIBUTE = 'openrtc.reject_message';
/** Job attribute: no media server stands behind this job (a local dispatcher's job). */
export const LOCAL_JOB_ATTRIBUTE = 'openrtc.local';
/** Participant attribute stamped by stock agents-js too; tools find the agent participant by it. */
export const AGENT_NAME_ATTRIBUTE = 'lk.agent.name';
