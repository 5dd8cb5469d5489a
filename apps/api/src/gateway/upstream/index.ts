export {
  UpstreamBodyError,
  UpstreamClient,
  UpstreamStallError,
  targetUrl,
  type UpstreamBodyFailure,
  type UpstreamCall,
  type UpstreamClientOptions,
  type UpstreamFailureReason,
  type UpstreamResult,
  type UpstreamTarget,
} from './upstream-client.js';
export { SseLimitError, SseParser, type SseEvent } from './sse-parser.js';
