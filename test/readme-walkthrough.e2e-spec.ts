import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { builtServer, ownDatabase, startServerProcess, tempRoot, ROOT, type OwnedDatabase, type ServerProcess } from './support/server-process.js';

/**
 * The README's walk-through is a test (issue 12): the one ```bash block of the section below is
 * taken from README.md as it stands and run, as a newcomer would run it, against a fresh server
 * (the built `node dist/apps/api/src/main.js`, a database of its own, the test clock from today,
 * an operator key of our choosing). Any step that fails makes the block exit non-zero, and so
 * this test fail: the README cannot drift from what the server does.
 */

const SECTION = '### A walk-through you can paste';
const OPERATOR_KEY = `readme-walkthrough-operator-${randomBytes(12).toString('hex')}`;

/** The first ```bash block of the section titled SECTION (before the next heading). */
function walkthroughBlock(readme: string): string {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.trim() === SECTION);
  if (start < 0) throw new Error(`README.md has no section "${SECTION}"`);
  let open = -1;
  for (let i = start + 1; i < lines.length; i++) {
    if (open < 0 && /^#{1,6} /.test(lines[i])) break;
    if (open < 0 && lines[i].trim() === '```bash') open = i;
    else if (open >= 0 && lines[i].trim() === '```') return lines.slice(open + 1, i).join('\n') + '\n';
  }
  throw new Error(`the section "${SECTION}" of README.md has no complete \`\`\`bash block`);
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

/** Runs `script` with bash (stdin), stdout and stderr interleaved into one text. */
function runBash(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  const t0 = Date.now();
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    // The block's `node -e` helpers must find this very node, without jest's flags.
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
    ...env,
  };
  delete childEnv.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-s'], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const timer = setTimeout(() => {
      output += `\n[killed: still running after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, ms: Date.now() - t0 });
    });
    child.stdin.end(script);
  });
}

let root: string;
let db: OwnedDatabase;
let server: ServerProcess;
let block: string;

beforeAll(async () => {
  block = walkthroughBlock(await readFile(join(ROOT, 'README.md'), 'utf8'));
  root = await tempRoot('ccx-walkthrough-');
  const mainJs = await builtServer(root);
  db = await ownDatabase(root, 'walkthrough');
  // No CCX_CLOCK_START: the test clock starts at today, as it does for a newcomer.
  server = await startServerProcess({
    mainJs,
    cwd: root,
    databaseUrl: db.url,
    env: { NODE_ENV: 'test', CCX_TEST_CLOCK: 'true', CCX_OPERATOR_KEY: OPERATOR_KEY, CCX_ALLOW_PRIVATE_URLS: 'true' },
  });
}, 300_000);

afterAll(async () => {
  await server?.stop(5_000);
  await db?.drop().catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

describe('the README walk-through', () => {
  it('runs as written, every step, against a fresh server', async () => {
    const run = await runBash(block, { API: `${server.base}/graphql`, CCX_OPERATOR_KEY: OPERATOR_KEY });
    if (run.code !== 0) {
      throw new Error(
        `the walk-through of README.md ("${SECTION}") failed (exit ${run.code ?? run.signal} after ${run.ms} ms); its output, the failing step last:\n` +
          `${run.output.slice(-8000)}\n--- the server's last lines ---\n${server.output().split('\n').slice(-30).join('\n')}`,
      );
    }
    // It went all the way: the last step prints the keys.
    expect(run.output).toMatch(/^BUYER_KEY=\S+$/m);
  });

  it('stops at the first failing step, saying which (a wrong operator key)', async () => {
    const run = await runBash(block, { API: `${server.base}/graphql`, CCX_OPERATOR_KEY: `${OPERATOR_KEY}-wrong` });
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('FAILED: {"query":"mutation { approveOrganization');
    expect(run.output).toContain('UNAUTHENTICATED');
    expect(run.output).not.toMatch(/^BUYER_KEY=/m);
  });
});
