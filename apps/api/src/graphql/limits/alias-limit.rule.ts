import { Kind, type SelectionSetNode, type ValidationRule } from 'graphql';
import { limitError, operationLabel } from './limit-error.js';

/**
 * Refuses operations with more than `maxAliases` aliased fields. Aliases are how one request
 * asks for the same expensive field many times (`a: listings … b: listings …`), so they are
 * counted as the operation would execute them: a fragment counts once per spread. Per-fragment
 * totals are memoized, so even an exponential fragment expansion is counted in linear time.
 */
export function aliasLimitRule(maxAliases: number): ValidationRule {
  return (context) => {
    const fragmentCounts = new Map<string, number>();

    const countIn = (set: SelectionSetNode, visiting: Set<string>): number => {
      let count = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.alias) count += 1;
          if (selection.selectionSet) count += countIn(selection.selectionSet, visiting);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          count += countIn(selection.selectionSet, visiting);
        } else {
          const name = selection.name.value;
          if (visiting.has(name)) continue; // a cycle: NoFragmentCycles reports it
          let fragmentCount = fragmentCounts.get(name);
          if (fragmentCount === undefined) {
            const fragment = context.getFragment(name);
            if (!fragment) continue;
            visiting.add(name);
            fragmentCount = countIn(fragment.selectionSet, visiting);
            visiting.delete(name);
            fragmentCounts.set(name, fragmentCount);
          }
          count += fragmentCount;
        }
      }
      return count;
    };

    return {
      OperationDefinition(operation) {
        const count = countIn(operation.selectionSet, new Set());
        if (count > maxAliases) {
          context.reportError(limitError(`${operationLabel(operation)} uses ${count} aliases; the limit is ${maxAliases}`, operation));
        }
      },
    };
  };
}
