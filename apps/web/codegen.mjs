// Types every GraphQL document of the console from the committed schema.gql (the client preset of
// GraphQL Code Generator, run through @graphql-codegen/core: the CLI's URL/GitHub loaders need
// Node 22). Documents are the graphql(`…`) calls in src/**/*.ts(x); a document that does not
// match the schema fails here, before the build.
import { readdirSync, readFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, GraphQLError, validate } from 'graphql';
import { codegen } from '@graphql-codegen/core';
import { preset } from '@graphql-codegen/client-preset';

const web = fileURLToPath(new URL('.', import.meta.url));
const src = join(web, 'src');
const out = join(src, 'gql');
const schemaText = readFileSync(join(web, '../../schema.gql'), 'utf8');
const schemaAst = buildSchema(schemaText);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== out) yield* files(path);
    } else if (/\.tsx?$/.test(entry.name)) yield path;
  }
}

const documents = [];
const problems = [];
for (const file of files(src)) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/graphql\(\s*`([^`]*)`/g)) {
    const rawSDL = match[1];
    const location = relative(web, file);
    try {
      documents.push({ location, document: parse(rawSDL), rawSDL });
    } catch (e) {
      problems.push(`${location}: ${e instanceof GraphQLError ? e.message : e}`);
    }
  }
}
// Validated together: fragments live in one file and are spread in others; names must be unique.
if (!problems.length) {
  const all = { kind: 'Document', definitions: documents.flatMap((d) => d.document.definitions) };
  for (const e of validate(schemaAst, all)) {
    const where = documents.find((d) => d.rawSDL === e.nodes?.[0]?.loc?.source.body);
    problems.push(`${where?.location ?? 'documents'}: ${e.message}`);
  }
}
if (problems.length) {
  console.error(`console codegen: ${problems.length} document(s) do not match schema.gql:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const config = {
  documentMode: 'string',
  useTypeImports: true,
  enumsAsTypes: true,
  scalars: { Decimal: 'string', DateTime: 'string' },
  strictScalars: true,
  skipTypename: true,
};
const sections = await preset.buildGeneratesSection({
  baseOutputDir: 'src/gql/',
  schema: parse(schemaText),
  schemaAst,
  documents,
  config,
  presetConfig: { fragmentMasking: false },
  plugins: [],
  pluginMap: {},
  documentTransforms: [],
});
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const section of sections) {
  const output = await codegen({ ...section, cache: undefined });
  writeFileSync(join(web, section.filename), output);
}
console.log(`console codegen: ${documents.length} documents typed into ${relative(process.cwd(), out)}`);
