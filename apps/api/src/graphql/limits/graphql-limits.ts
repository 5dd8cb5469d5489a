import type { ValidationRule } from 'graphql';
import { aliasLimitRule } from './alias-limit.rule.js';
import { complexityLimitRule } from './complexity-limit.rule.js';
import { depthLimitRule } from './depth-limit.rule.js';

export interface GraphqlLimits {
  maxDepth: number;
  maxAliases: number;
  maxComplexity: number;
}

/**
 * The request limits, as validation rules for Apollo's `validationRules`: an operation over any
 * of them is refused with GRAPHQL_VALIDATION_FAILED (HTTP 400) before a resolver runs. They judge
 * the document only, so Apollo's document cache validates each distinct query once.
 */
export function graphqlLimitRules(limits: GraphqlLimits): ValidationRule[] {
  return [depthLimitRule(limits.maxDepth), aliasLimitRule(limits.maxAliases), complexityLimitRule(limits.maxComplexity)];
}
