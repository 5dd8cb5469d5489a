/**
 * How a gateway request ended (SPEC §12). A request in flight is RUNNING in the log and never
 * shown; these are the states a caller sees (the GraphQL enum is registered from this object).
 */
export const InferenceRequestStatus = {
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  REFUSED: 'REFUSED',
  CANCELLED: 'CANCELLED',
} as const;
export type InferenceRequestStatus = (typeof InferenceRequestStatus)[keyof typeof InferenceRequestStatus];
