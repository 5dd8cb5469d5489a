import { Kind, type FieldNode, type OperationDefinitionNode, type SelectionSetNode, type ValidationRule } from 'graphql';
import { limitError, operationLabel } from './limit-error.js';

/**
 * `first: $variable` is judged before the variables are known (validation runs once per
 * document and Apollo caches the result), so it counts as the variable's default when it has a
 * literal one, otherwise as 100: the largest page of the `listings` connection.
 */
export const ASSUMED_PAGE_SIZE = 100;

/** Cost as a function of the enclosing lists' multiplier m: scaled × m + flat. */
interface Cost {
  scaled: number;
  flat: number;
}

/**
 * Refuses operations whose estimated cost exceeds `maxComplexity`. The estimate:
 * - an object field (one with a selection set) costs 1 per object it may return: 1 under the
 *   root, multiplied by every enclosing `first` argument, and by its own `first` when it takes
 *   one (it returns a page of that size, or a connection over one);
 * - a scalar field costs 1, not multiplied: the work is in loading the objects, while a scalar
 *   read from a loaded row is nearly free. Scaling scalars too would price one full page of
 *   listings with its usual fields (~16) at ~1,800 and refuse an ordinary request.
 * So `listings(first: 100) { edges { node { id } } }` costs 301 and four aliased copies of it
 * (1,204) are refused at the default limit of 1,000. Lists without `first` count as one item:
 * their size is bounded by the owner's data, not by the caller.
 *
 * Cost is linear in the multiplier, so each fragment's cost is computed once (per operation,
 * since `first: $v` depends on the operation's variables) and reused at every spread.
 */
export function complexityLimitRule(maxComplexity: number): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      const fragmentCosts = new Map<string, Cost>();

      const costOf = (set: SelectionSetNode, visiting: Set<string>): Cost => {
        const total: Cost = { scaled: 0, flat: 0 };
        for (const selection of set.selections) {
          if (selection.kind === Kind.FIELD) {
            if (!selection.selectionSet) {
              total.flat += 1;
              continue;
            }
            const page = pageSize(selection, operation);
            const below = costOf(selection.selectionSet, visiting);
            total.scaled += page + page * below.scaled;
            total.flat += below.flat;
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            add(total, costOf(selection.selectionSet, visiting));
          } else {
            const name = selection.name.value;
            if (visiting.has(name)) continue; // a cycle: NoFragmentCycles reports it
            let cost = fragmentCosts.get(name);
            if (cost === undefined) {
              const fragment = context.getFragment(name);
              if (!fragment) continue;
              visiting.add(name);
              cost = costOf(fragment.selectionSet, visiting);
              visiting.delete(name);
              fragmentCosts.set(name, cost);
            }
            add(total, cost);
          }
        }
        return total;
      };

      const cost = costOf(operation.selectionSet, new Set());
      const complexity = cost.scaled + cost.flat;
      if (complexity > maxComplexity) {
        const shown = Number.isFinite(complexity) && complexity < 1e15 ? String(Math.ceil(complexity)) : 'unbounded';
        context.reportError(
          limitError(
            `${operationLabel(operation)} has an estimated complexity of ${shown}; the limit is ${maxComplexity} ` +
              '(each object counts once per item of the lists above it, sized by their `first`; each scalar field counts 1)',
            operation,
          ),
        );
      }
    },
  });
}

function add(total: Cost, more: Cost): void {
  total.scaled += more.scaled;
  total.flat += more.flat;
}

/** The field's `first` argument as a page size (at least 1), or 1 when it has none. */
function pageSize(field: FieldNode, operation: OperationDefinitionNode): number {
  const arg = field.arguments?.find((a) => a.name.value === 'first');
  if (!arg) return 1;
  let value = arg.value;
  if (value.kind === Kind.VARIABLE) {
    const name = value.name.value;
    const definition = operation.variableDefinitions?.find((d) => d.variable.name.value === name);
    if (!definition?.defaultValue) return ASSUMED_PAGE_SIZE;
    value = definition.defaultValue;
  }
  // A non-integer `first` fails type validation anyway; count it as one item meanwhile.
  if (value.kind !== Kind.INT) return value.kind === Kind.NULL ? ASSUMED_PAGE_SIZE : 1;
  return Math.max(1, Number(value.value));
}
