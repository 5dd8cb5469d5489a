import { GatewayError } from '../http/openai-error.js';

// The OpenAI error shape is the HTTP layer's (the REST filter answers with it too).
export { fromDomainError, GatewayError } from '../http/openai-error.js';

export const modelNotFound = (model: string) =>
  new GatewayError(404, 'invalid_request_error', 'model_not_found', `The model '${model}' does not exist or is not served by CCX`, 'model');
