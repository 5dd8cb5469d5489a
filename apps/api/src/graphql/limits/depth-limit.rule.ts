import { Kind, type SelectionSetNode, type ValidationRule } from 'graphql';
import { limitError, operationLabel } from './limit-error.js';

/**
 * Refuses operations nested deeper than `maxDepth` fields (a top-level field is depth 1).
 *
 * Fragments are followed, so spreading cannot hide depth. Each fragment's depth is computed once
 * (it does not depend on where it is spread), which keeps "fragment bombs" linear. A fragment
 * cycle is skipped here: graphql-js's NoFragmentCycles rule already refuses it.
 *
 * Introspection's `ofType` chain is not counted: the standard introspection query (GraphiQL's)
 * unwraps NonNull/List types through about eight `ofType` levels, which are single objects and
 * cheap. Every other introspection field counts, so the cyclic
 * `types { fields { type { fields … } } }` shape is still cut off.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context) => {
    const fragmentDepths = new Map<string, number>();

    const depthOf = (set: SelectionSetNode, introspective: boolean, visiting: Set<string>): number => {
      let deepest = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          const name = selection.name.value;
          const inIntrospection = introspective || name === '__schema' || name === '__type';
          const own = inIntrospection && name === 'ofType' ? 0 : 1;
          const below = selection.selectionSet ? depthOf(selection.selectionSet, inIntrospection, visiting) : 0;
          deepest = Math.max(deepest, own + below);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const onMeta = selection.typeCondition?.name.value.startsWith('__') ?? false;
          deepest = Math.max(deepest, depthOf(selection.selectionSet, introspective || onMeta, visiting));
        } else {
          const name = selection.name.value;
          if (visiting.has(name)) continue;
          let depth = fragmentDepths.get(name);
          if (depth === undefined) {
            const fragment = context.getFragment(name);
            if (!fragment) continue; // KnownFragmentNames reports it
            visiting.add(name);
            depth = depthOf(fragment.selectionSet, fragment.typeCondition.name.value.startsWith('__'), visiting);
            visiting.delete(name);
            fragmentDepths.set(name, depth);
          }
          deepest = Math.max(deepest, depth);
        }
      }
      return deepest;
    };

    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation.selectionSet, false, new Set());
        if (depth > maxDepth) {
          context.reportError(
            limitError(`${operationLabel(operation)} is nested ${depth} fields deep; the limit is ${maxDepth}`, operation),
          );
        }
      },
    };
  };
}
