// The documentation cannot rot: typedoc builds the API reference of every namespace the package exports
// (a broken doc comment, a dangling {@link} or an unknown tag is an error), and every TypeScript block of
// README.md and docs/*.md type-checks against the built package (dist/, as `import ... from 'torchkd'`
// resolves it through package.json's exports), with its hidden prelude.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as pkg from '../dist/index.js';
import { docBlocks, docFiles, TYPESCRIPT, type DocBlock } from './docblocks';

const root = join(__dirname, '..');

/** Electron's type declarations (electron.d.ts from the npm package; its binary is not downloaded). */
export function electronTypes(): string {
  const dir = join(root, '.cache', 'electron');
  const file = join(dir, 'package', 'electron.d.ts');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('npm', ['pack', 'electron@45', '--silent'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error('npm pack electron@45 produced no archive');
    execFileSync('tar', ['xzf', tgz, 'package/electron.d.ts', 'package/package.json'], { cwd: dir });
  }
  return file;
}

interface Reflection { name: string; kind: number; children?: Reflection[]; signatures?: { comment?: { summary: { text: string }[] } }[] }

describe('API reference (typedoc)', () => {
  it('documents every exported namespace, with the doc comments of its functions, and warns about nothing', () => {
    const out = mkdtempSync(join(tmpdir(), 'torchkd-typedoc-'));
    const json = join(out, 'api.json');
    // typedoc.json has treatWarningsAsErrors: a warning is a non-zero exit with the message on stderr.
    execFileSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--json', json, '--logLevel', 'Warn'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const project = JSON.parse(readFileSync(json, 'utf8')) as Reflection;
    const namespaces = new Map((project.children ?? []).filter((c) => c.kind === 4).map((c) => [c.name, c]));
    // Every namespace object the package exports at run time (torch, nn, ..., and any added later).
    const exported = Object.entries(pkg).filter(([k, v]) => k !== 'default' && v !== null && typeof v === 'object' && !Array.isArray(v)).map(([k]) => k);
    expect(exported).toEqual(expect.arrayContaining(['torch', 'nn', 'optim', 'data', 'io', 'distill', 'train', 'models', 'report']));
    for (const name of exported) {
      expect(namespaces.has(name), `namespace ${name} is in the reference`).toBe(true);
      expect(namespaces.get(name)!.children?.length ?? 0, `namespace ${name} has members`).toBeGreaterThan(0);
    }
    // A function's doc comment, with its formula, reaches the reference.
    const kdLoss = namespaces.get('distill')!.children!.find((c) => c.name === 'kdLoss')!;
    const summary = kdLoss.signatures![0].comment!.summary.map((p) => p.text).join('');
    expect(summary).toContain('kdLoss = T² · KL(softmax(t/T) ‖ softmax(s/T))');
  }, 300_000);
});

/** Type errors of the TypeScript blocks of all documents, as `doc:line: message` (line in the Markdown file). */
function typeErrors(blocks: DocBlock[]): { checked: number; errors: string[] } {
  const files = new Map<string, { text: string; block: DocBlock; offset: number }>();
  const dirOf = (doc: string) => join(root, '.cache', 'doc-blocks', doc.replace(/[^\w]+/g, '_'));
  for (const block of blocks) {
    const name = block.file ?? `${block.doc.replace(/[^\w]+/g, '_')}-L${block.line}.mts`;
    const path = join(dirOf(block.doc), name);
    if (files.has(path)) throw new Error(`${block.doc}:${block.line}: a second block is named ${name}`);
    const prelude = block.prelude ? `${block.prelude}\n` : '';
    // Each block is a module of its own, also when it imports and exports nothing.
    files.set(path, { text: `${prelude}${block.code}\nexport {};\n`, block, offset: prelude ? prelude.split('\n').length - 1 : 0 });
  }
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile, directoryExists } = host;
  const dirs = new Set([...files.keys()].map((f) => join(f, '..')));
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.directoryExists = (d) => dirs.has(d) || (directoryExists ? directoryExists.call(host, d) : true);
  host.readFile = (f) => files.get(f)?.text ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const virtual = files.get(f);
    return virtual ? ts.createSourceFile(f, virtual.text, lang, true) : getSourceFile.call(host, f, lang, ...rest);
  };
  const program = ts.createProgram([...files.keys(), electronTypes()], options, host);
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const virtual = d.file ? files.get(d.file.fileName) : undefined;
    if (!d.file || d.start === undefined) return `(program): ${message}`;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    if (!virtual) return `${d.file.fileName}:${line + 1}: ${message}`;
    const where = line < virtual.offset ? `${virtual.block.doc}:${virtual.block.line} (prelude line ${line + 1})` : `${virtual.block.doc}:${virtual.block.line + 1 + line - virtual.offset}`;
    return `${where}: ${message}`;
  });
  return { checked: files.size, errors };
}

describe('code blocks of README.md and docs/*.md', () => {
  const all = docFiles().flatMap(docBlocks);

  it('every TypeScript block type-checks against the built package', () => {
    const blocks = all.filter((b) => TYPESCRIPT.has(b.lang));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const doc of ['README.md', 'docs/electron.md']) expect(blocks.some((b) => b.doc === doc), doc).toBe(true);
    const { checked, errors } = typeErrors(blocks);
    expect(checked).toBe(blocks.length);
    expect(errors).toEqual([]);
  }, 120_000);

  it('every JSON block parses', () => {
    for (const b of all.filter((x) => x.lang === 'json')) expect(() => JSON.parse(b.code), `${b.doc}:${b.line}`).not.toThrow();
  });

  it('a broken block is reported at its line in the Markdown file', () => {
    const block: DocBlock = { doc: 'README.md', line: 10, lang: 'ts', file: null, prelude: "import { torch } from 'torchkd';", code: "const t: string = torch.ones([2]);\n" };
    const { errors } = typeErrors([block]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^README\.md:11: Type 'Tensor' is not assignable to type 'string'/);
  });
});
