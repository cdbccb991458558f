// Loads vega and vega-lite (ESM-only packages) from this CommonJS build and renders a vega-lite spec to SVG.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { TorchError } from '../torch/errors';

/** The parts of vega's and vega-lite's APIs used here. */
interface VegaView {
  toSVG(): Promise<string>;
  finalize(): void;
}
interface Vega {
  parse(spec: object): object;
  View: new (runtime: object, options: { renderer: 'none' }) => VegaView;
}
interface VegaLite {
  compile(spec: object): { spec: object };
}

/** A vega-lite spec, built as plain JSON. */
export type Spec = Record<string, unknown>;

// tsc (module: commonjs) turns `import()` into `require()`, which cannot load ESM on Node < 20.19: a Function
// body is not rewritten, so it keeps Node's real dynamic import. The specifier is resolved to a file URL from
// this file first, so that the packages are found wherever torchkd is installed.
const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
const requireHere = createRequire(__filename);
const load = (pkg: string) => importEsm(pathToFileURL(requireHere.resolve(pkg)).href);

let modules: Promise<[Vega, VegaLite]> | undefined;

function vega(): Promise<[Vega, VegaLite]> {
  modules ??= Promise.all([load('vega'), load('vega-lite')]).then(
    (m) => m as [Vega, VegaLite],
    (e: Error) => {
      modules = undefined;
      throw new TorchError(`report: cannot load vega and vega-lite (npm dependencies of torchkd): ${e.message}`);
    },
  );
  return modules;
}

/** Compiles a vega-lite spec to vega and renders it headless (no DOM, no canvas) to an SVG string. */
export async function renderSvg(spec: Spec): Promise<string> {
  const [vg, vl] = await vega();
  const view = new vg.View(vg.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
