import { GraphQLError, type ASTNode } from 'graphql';

/**
 * A refused operation. Reported from a validation rule, so Apollo answers HTTP 400 before any
 * resolver runs; the code is the one Apollo gives every validation failure, which formatError
 * passes through unchanged (SPEC §11 lists no separate code for request limits).
 */
export function limitError(message: string, node: ASTNode): GraphQLError {
  return new GraphQLError(message, { nodes: [node], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
}

/** "query Name" or "the anonymous query", for messages. */
export function operationLabel(operation: { operation: string; name?: { value: string } }): string {
  return operation.name ? `${operation.operation} ${operation.name.value}` : `the anonymous ${operation.operation}`;
}
