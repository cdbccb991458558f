// The fenced code blocks of README.md and docs/*.md, for the tests that type-check them (docs.test.ts) and
// run some of them (electron.test.ts).
//
// A block may be preceded (directly, or with only other such comments between) by HTML comments, which
// Markdown does not show:
//   <!-- prelude: TypeScript prepended to the block when it is checked, e.g. declarations of the
//        variables the block assumes: declare const model: nn.Module; -->
//   <!-- file: train-job.ts -->   the block's file name (other blocks of the document import it as
//                                 './train-job.js'); without one a block is `<doc>-<line>.mts`, an ES module
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DocBlock {
  /** The Markdown file, relative to the repository root (README.md, docs/electron.md). */
  doc: string;
  /** Line of the opening fence (1-based). */
  line: number;
  /** The fence's language (ts, typescript, js, sh, json...). */
  lang: string;
  /** The file name given by a `file:` comment, or null. */
  file: string | null;
  /** The hidden prelude ('' without one). */
  prelude: string;
  code: string;
}

const root = join(__dirname, '..');

/** README.md and every docs/*.md (docs/api, typedoc's output, is HTML and not read). */
export function docFiles(): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

/** The fenced blocks of one Markdown file, with the directives of the comments before each. */
export function docBlocks(doc: string): DocBlock[] {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  let pending: { file: string | null; prelude: string[] } = { file: null, prelude: [] };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const comment = /^<!--\s*(prelude|file):([\s\S]*)$/.exec(line);
    if (comment) {
      const body: string[] = [comment[2]];
      while (!body[body.length - 1].includes('-->')) {
        i += 1;
        if (i >= lines.length) throw new Error(`${doc}:${i}: unterminated <!-- ${comment[1]}: comment`);
        body.push(lines[i]);
      }
      body[body.length - 1] = body[body.length - 1].replace(/-->\s*$/, '');
      const text = body.join('\n').trim();
      if (comment[1] === 'file') pending.file = text;
      else pending.prelude.push(text);
      continue;
    }
    const fence = /^(```+)\s*([\w+-]*)/.exec(line);
    if (fence) {
      const start = i;
      const code: string[] = [];
      for (i += 1; i < lines.length && !lines[i].startsWith(fence[1]); i++) code.push(lines[i]);
      if (i >= lines.length) throw new Error(`${doc}:${start + 1}: unterminated code block`);
      blocks.push({ doc, line: start + 1, lang: fence[2].toLowerCase(), file: pending.file, prelude: pending.prelude.join('\n'), code: code.join('\n') });
      pending = { file: null, prelude: [] };
      continue;
    }
    // Directives belong to the next block only when nothing but blank lines comes between.
    if (line.trim() !== '') pending = { file: null, prelude: [] };
  }
  return blocks;
}

export const TYPESCRIPT = new Set(['ts', 'typescript', 'mts', 'cts']);
