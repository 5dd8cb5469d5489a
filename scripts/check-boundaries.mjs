#!/usr/bin/env node
/**
 * `npm run deps`: CCX's module rules (.dependency-cruiser.cjs, docs/ARCHITECTURE.md) over the
 * server and the libraries. Prints each broken rule with the import that breaks it, then every
 * module-level cycle, and exits 1 if there is any.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cruise } from 'dependency-cruiser';

const require = createRequire(import.meta.url);
const config = require('../.dependency-cruiser.cjs');

const result = await cruise(['apps/api/src', 'libs'], { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } });
const output = result.output;

const violations = output.summary.violations.filter((v) => v.rule.severity === 'error');
for (const v of violations) {
  const via = v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name ?? c).join(' → ')})` : '';
  console.log(`✗ ${v.rule.name}: ${v.from} → ${v.to}${via}`);
}

/** The module of a path: `apps/api/src/<m>/…` → `<m>`, `libs/<l>/…` → `lib:<l>`; files at the root are the app shell. */
function moduleOf(path) {
  let m = /^apps\/api\/src\/([^/]+)\//.exec(path);
  if (m) return m[1];
  m = /^libs\/([^/]+)\//.exec(path);
  return m ? `lib:${m[1]}` : null;
}

const edges = new Map();
for (const mod of output.modules) {
  const from = moduleOf(mod.source);
  if (!from) continue;
  for (const dep of mod.dependencies) {
    const to = moduleOf(dep.resolved);
    if (!to || to === from) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    const targets = edges.get(from);
    if (!targets.has(to)) targets.set(to, `${mod.source} → ${dep.resolved}`);
  }
}

// Tarjan's strongly connected components: any component of more than one module is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
let counter = 0;
function visit(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.sort());
  }
}
for (const v of edges.keys()) if (!index.has(v)) visit(v);

for (const component of cycles) {
  console.log(`✗ module cycle: ${component.join(' ⇄ ')}`);
  const inside = new Set(component);
  for (const from of component)
    for (const [to, example] of edges.get(from) ?? []) if (inside.has(to)) console.log(`    ${from} → ${to}: ${example}`);
}

// One writer per table, and the ledger's tables read through the ledger only: the SQL written in
// each module (uppercase keywords, as all of CCX's SQL is) against config.TABLE_OWNERS.
const owner = new Map(Object.entries(config.TABLE_OWNERS).flatMap(([m, tables]) => tables.map((t) => [t, m])));
const sqlBreaches = [];
for (const mod of output.modules) {
  const here = moduleOf(mod.source);
  if (!here || !mod.source.endsWith('.ts')) continue;
  const text = readFileSync(mod.source, 'utf8');
  for (const match of text.matchAll(/\b(INSERT INTO|UPDATE|DELETE FROM|FROM|JOIN)\s+([a-z_]+)\b/g)) {
    const [, verb, table] = match;
    const own = owner.get(table);
    if (!own || own === here) continue;
    const write = verb !== 'FROM' && verb !== 'JOIN';
    if (write || own === 'lib:ledger') {
      const line = text.slice(0, match.index).split('\n').length;
      sqlBreaches.push(`✗ ${write ? 'writes-foreign-table' : 'reads-ledger-behind-its-back'}: ${mod.source}:${line} ${verb} ${table} (owned by ${own})`);
    }
  }
}
for (const b of sqlBreaches) console.log(b);

const modules = new Set([...edges.keys(), ...[...edges.values()].flatMap((t) => [...t.keys()])]);
if (violations.length || cycles.length || sqlBreaches.length) {
  console.log(`module rules: ${violations.length} broken import(s), ${sqlBreaches.length} foreign table access(es), ${cycles.length} module cycle(s) in ${output.summary.totalCruised} files`);
  process.exit(1);
}
console.log(`module rules: ${output.summary.totalCruised} files in ${modules.size} modules, no broken rule, no module cycle`);
