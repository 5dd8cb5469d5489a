import { buildSchema, getIntrospectionQuery, parse, validate } from 'graphql';
import { graphqlLimitRules } from './graphql-limits.js';

// A cyclic schema (an organization's listings have sellers, which have listings…), so any depth
// can be written.
const schema = buildSchema(`
  type Query { listings(first: Int): ListingConnection! me: Org clock: String }
  type ListingConnection { edges: [Edge!]! totalCount: Int! }
  type Edge { node: Listing! }
  type Listing { id: ID! region: String! seller: Org! }
  type Org { id: ID! name: String! listings(first: Int): ListingConnection! }
`);

const DEFAULTS = { maxDepth: 10, maxAliases: 30, maxComplexity: 1000 };

function errorsOf(query: string, limits = DEFAULTS): string[] {
  return validate(schema, parse(query), graphqlLimitRules(limits)).map((e) => e.message);
}

/** `{ me { listings { edges { node { seller { … id … } } } } } }` nested `n` times. */
function nested(levels: number): string {
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = `listings { edges { node { seller { ${inner} } } } }`;
  return `{ me { ${inner} } }`;
}

const page = (alias: string) => `${alias}: listings(first: 100) { edges { node { id } } }`;

describe('GraphQL request limits', () => {
  it.each([
    ['a flat query', '{ clock }'],
    ['depth 10 exactly', nested(2)], // me + 2 × 4 + id = 10
    ['30 aliases', `{ ${Array.from({ length: 30 }, (_, i) => `c${i}: clock`).join(' ')} }`],
    ['three full pages (903)', `{ ${['a', 'b', 'c'].map(page).join(' ')} }`],
    ['the standard introspection query', getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true })],
  ])('accepts %s', (_name, query) => {
    expect(errorsOf(query)).toEqual([]);
  });

  it.each([
    ['depth 11', nested(2).replace('{ id }', '{ name listings { totalCount } }'), /nested 11 fields deep; the limit is 10/],
    ['depth hidden in fragments', `query Deep { me { ...L } } fragment L on Org { listings { edges { node { seller { ...M } } } } }
       fragment M on Org { listings { edges { node { seller { listings { edges { node { id } } } } } } } }`, /query Deep is nested 13 fields deep/],
    ['a cyclic introspection query', '{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } } }', /nested 12 fields deep/],
    ['31 aliases', `{ ${Array.from({ length: 31 }, (_, i) => `c${i}: clock`).join(' ')} }`, /uses 31 aliases; the limit is 30/],
    ['aliases counted once per spread', `{ ...F ...F me { ...G } } fragment F on Query { a: clock b: clock } fragment G on Org { ${Array.from({ length: 27 }, (_, i) => `n${i}: name`).join(' ')} }`, /uses 31 aliases/],
    ['four full pages (1,204)', `{ ${['a', 'b', 'c', 'd'].map(page).join(' ')} }`, /estimated complexity of 1204; the limit is 1000/],
    ['nested pages multiply', '{ listings(first: 10) { edges { node { seller { listings(first: 100) { edges { node { id } } } } } } } }', /estimated complexity of 3041/],
    ['a variable page without default counts as 100', `query($n: Int) { ${['a', 'b', 'c', 'd'].map((a) => `${a}: listings(first: $n) { edges { node { id } } }`).join(' ')} }`, /complexity of 1204/],
    ['a huge first', '{ listings(first: 99999999999999999999) { totalCount } }', /complexity of unbounded/],
  ])('refuses %s', (_name, query, message) => {
    const errors = errorsOf(query);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it('uses a variable default as the page size', () => {
    const query = `query($n: Int = 5) { ${['a', 'b', 'c', 'd'].map((a) => `${a}: listings(first: $n) { edges { node { id } } }`).join(' ')} }`;
    expect(errorsOf(query)).toEqual([]);
    expect(errorsOf(query, { ...DEFAULTS, maxComplexity: 60 })).toEqual([expect.stringMatching(/complexity of 64/)]);
  });

  it('counts an exponential fragment expansion without expanding it', () => {
    // 2^40 aliased fields once expanded; memoized counting answers at once.
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join('\n');
    const query = `{ ...F0 }\n${fragments}\nfragment F40 on Query { x: clock }`;
    const errors = errorsOf(query);
    expect(errors).toEqual([expect.stringMatching(/uses 1099511627776 aliases/), expect.stringMatching(/complexity of 1099511627776/)]);
  });

  it('labels each operation of a document by name', () => {
    const errors = errorsOf(`query Small { clock } query Big { ${['a', 'b', 'c', 'd'].map(page).join(' ')} }`);
    expect(errors).toEqual([expect.stringMatching(/^query Big has an estimated complexity/)]);
  });

  it('reports the code Apollo gives validation failures', () => {
    const [error] = validate(schema, parse(nested(3)), graphqlLimitRules(DEFAULTS));
    expect(error.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });
});
