/**
 * Compares two V8 heap snapshots (`.heapsnapshot`, e.g. from `SOAK_HEAP_SNAPSHOTS=<folder> npm run
 * bench:soak`) by what they hold: objects counted by constructor (strings, arrays, closures and
 * code by kind), with their shallow size. Prints the 30 that grew most from the early snapshot to
 * the late one, by count and by bytes. What keeps growing between a quarter of a soak and its end
 * is the leak to look for; what stays level is not.
 *
 *   node --max-old-space-size=4096 dist/bench/heap-diff.js early.heapsnapshot late.heapsnapshot
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Tally {
  count: number;
  bytes: number;
}

/** Objects by constructor name (other node kinds by kind): count and shallow bytes. */
function tally(file: string): Map<string, Tally> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const kinds = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map<string, Tally>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const kind = kinds[snap.nodes[i + typeAt]];
    const key = kind === 'object' || kind === 'native' ? snap.strings[snap.nodes[i + nameAt]] : `(${kind})`;
    const t = out.get(key) ?? { count: 0, bytes: 0 };
    t.count += 1;
    t.bytes += snap.nodes[i + sizeAt];
    out.set(key, t);
  }
  return out;
}

function main(): void {
  const [earlyFile, lateFile] = process.argv.slice(2);
  if (!earlyFile || !lateFile) throw new Error('usage: heap-diff <early.heapsnapshot> <late.heapsnapshot>');
  const early = tally(earlyFile);
  const late = tally(lateFile);
  const rows = [...new Set([...early.keys(), ...late.keys()])].map((name) => {
    const a = early.get(name) ?? { count: 0, bytes: 0 };
    const b = late.get(name) ?? { count: 0, bytes: 0 };
    return { name: name.slice(0, 60), early: a.count, late: b.count, countDelta: b.count - a.count, kibDelta: Math.round((b.bytes - a.bytes) / 1024) };
  });
  const total = (t: Map<string, Tally>) => [...t.values()].reduce((s, x) => ({ count: s.count + x.count, bytes: s.bytes + x.bytes }), { count: 0, bytes: 0 });
  const [te, tl] = [total(early), total(late)];
  console.log(`objects ${te.count} → ${tl.count}; shallow ${Math.round(te.bytes / 1048576)} → ${Math.round(tl.bytes / 1048576)} MiB`);
  console.log('\nGrew most by count:');
  console.table(rows.sort((x, y) => y.countDelta - x.countDelta).slice(0, 30));
  console.log('\nGrew most by bytes:');
  console.table(rows.sort((x, y) => y.kibDelta - x.kibDelta).slice(0, 30));
}

main();
