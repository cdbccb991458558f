// Generates the ops from native/ops.table (one PyTorch schema per line):
//   native/ops.cc             one C++ function per overload: read arguments, call ATen (or the table's
//                             C++ expression, for composites in native/composite.h), return handles;
//   lib/torch/ops.generated.ts  Tensor methods (typed overloads with docs), torch.* functions, overload
//                             dispatch on argument types, trailing options objects, nn.functional list.
//   node scripts/gen-ops.mjs           writes both files
//   node scripts/gen-ops.mjs --check   exits 1 when they differ from what the table generates
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const TABLE = join(root, 'native', 'ops.table');
const OUT_CC = join(root, 'native', 'ops.cc');
const OUT_TS = join(root, 'lib', 'torch', 'ops.generated.ts');

// ------------------------------------------------------------------------------------------- parsing

const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const RESERVED = new Set(['var', 'delete', 'new', 'in', 'function', 'default']);
// method: t.op(); function: torch.op(); nn: torch.nn.functional.op(); linalg / fft: torch.linalg.op(),
// torch.fft.op() (the schema name's prefix dropped).
const VARIANTS = ['method', 'function', 'nn', 'linalg', 'fft'];

/** Parses `Type name=default` with PyTorch's annotations: Tensor(a!), int[1]?, Tensor(a)[]. */
function parseArg(text, kwOnly) {
  const m = /^(\S+)\s+(\w+)(?:=(.+))?$/.exec(text.trim().replace(' -> *', ''));
  if (!m) throw new Error(`cannot parse argument '${text}'`);
  let [, type, name, dflt] = m;
  const alias = /\((a!?)\)/.exec(type)?.[1] ?? null;
  type = type.replace(/\([^)]*\)/, '');
  const optional = type.endsWith('?');
  if (optional) type = type.slice(0, -1);
  let base = type;
  let list = null;
  const lm = /^(\w+)\[(\d*)\]$/.exec(type);
  if (lm) [, base, list] = [null, lm[1], lm[2] || 'any'];
  return { name, jsName: name === 'self' ? 'input' : camel(name), base, list, optional, default: dflt, alias, kwOnly };
}

function parseReturns(text) {
  text = text.trim();
  if (text.startsWith('(')) {
    return { kind: 'tuple', names: text.slice(1, -1).split(',').map((p) => p.trim().split(/\s+/)[1]) };
  }
  if (/^Tensor(\([^)]*\))?\[\]$/.test(text.replace(/\(a -> \*\)/, '(a)'))) return { kind: 'list' };
  if (text.startsWith('Tensor(a!)')) return { kind: 'inplace' };
  if (text.startsWith('Tensor(a)')) return { kind: 'view' };
  if (text === 'Tensor') return { kind: 'tensor' };
  if (['bool', 'float', 'int', 'Scalar'].includes(text)) return { kind: text === 'bool' ? 'bool' : 'number' };
  throw new Error(`unsupported return type '${text}'`);
}

function parseLine(line, lineNo) {
  const [schema, variants = '', doc = '', cpp = ''] = `${line} `.split(' | ').map((s) => s.trim());
  const m = /^([\w.]+)\((.*)\)\s*->\s*(.+)$/.exec(schema);
  if (!m) throw new Error(`ops.table:${lineNo}: cannot parse schema '${schema}'`);
  const [, full, argText, retText] = m;
  const [cppName, overload = ''] = full.split('.');
  let kwOnly = false;
  const args = [];
  for (const a of argText.split(/,(?![^[]*\])/).map((s) => s.trim()).filter(Boolean)) {
    if (a === '*') kwOnly = true;
    else args.push({ ...parseArg(a, kwOnly), op: cppName });
  }
  const vars = new Set(variants.split(/\s+/).filter(Boolean));
  for (const v of vars) if (!VARIANTS.includes(v)) throw new Error(`ops.table:${lineNo}: unknown variant ${v}`);
  const namespace = ['linalg', 'fft'].find((v) => vars.has(v)) ?? null;
  return {
    schema, full, cppName, overload, args, returns: parseReturns(retText), variants: vars, doc, cpp, namespace,
    jsName: camel(cppName), nsName: namespace ? camel(cppName.slice(namespace.length + 1)) : null,
    nativeName: full.replace('.', '_'), line: lineNo,
  };
}

function readTable() {
  const ops = [];
  readFileSync(TABLE, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line && !line.startsWith('#')) ops.push(parseLine(line, i + 1));
  });
  return ops;
}

// ---------------------------------------------------------------------------------------------- C++

function cppDefault(arg) {
  const d = arg.default;
  if (d === 'None') return 'c10::nullopt';
  if (arg.list) return `std::vector<${arg.base === 'float' ? 'double' : 'int64_t'}>{${d.startsWith('[') ? d.slice(1, -1) : d}}`;
  switch (arg.base) {
    case 'bool': return d === 'True' ? 'true' : 'false';
    case 'Scalar': return `at::Scalar(${/[.e]/.test(d) ? `double(${d})` : `int64_t(${d})`})`;
    case 'int': return `int64_t(${d})`;
    case 'float': return `double(${d})`;
    case 'str': return `std::string(${d.replace(/^'(.*)'$/, '"$1"')})`;
    default: throw new Error(`no C++ default for ${arg.base} ${arg.name}=${d}`);
  }
}

/** Declares a local for argument i and returns the C++ lines. */
function cppRead(arg, i) {
  const v = arg.name;
  const opt = (readExpr, type) => arg.optional
    ? `  c10::optional<${type}> ${v} = c.isNullish(${i}) ? c10::optional<${type}>() : c10::optional<${type}>(${readExpr});`
    : arg.default !== undefined
      ? `  ${type} ${v} = c.isNullish(${i}) ? ${type}(${cppDefault(arg)}) : ${type}(${readExpr});`
      : `  ${type} ${v} = ${readExpr};`;
  if (arg.list) {
    if (arg.base === 'Tensor') return [`  std::vector<at::Tensor> ${v} = c.tensorList(${i});`];
    if (arg.base === 'float') {
      if (!arg.optional) throw new Error('only optional float lists are supported');
      return [
        `  std::vector<double> ${v}_values;`,
        `  c10::optional<at::ArrayRef<double>> ${v};`,
        `  if (!c.isNullish(${i})) { ${v}_values = c.doubleList(${i}); ${v} = at::ArrayRef<double>(${v}_values); }`,
      ];
    }
    if (arg.base !== 'int') throw new Error(`unsupported list type ${arg.base}[]`);
    if (arg.optional) {
      return [
        `  std::vector<int64_t> ${v}_values;`,
        `  at::OptionalIntArrayRef ${v};`,
        `  if (!c.isNullish(${i})) { ${v}_values = c.intList(${i}); ${v} = ${v}_values; }`,
      ];
    }
    return [opt(`c.intList(${i})`, 'std::vector<int64_t>')];
  }
  switch (arg.base) {
    case 'Tensor':
      return arg.optional
        ? [`  c10::optional<at::Tensor> ${v} = c.isNullish(${i}) ? c10::optional<at::Tensor>() : c10::optional<at::Tensor>(c.tensor(${i}));`]
        : [`  at::Tensor& ${v} = c.tensor(${i});`];
    case 'Scalar': return [opt(`c.scalar(${i})`, 'at::Scalar')];
    case 'int': return [opt(`c.int64(${i})`, 'int64_t')];
    case 'float': return [opt(`c.number(${i})`, 'double')];
    case 'bool': return [opt(`c.boolean(${i})`, 'bool')];
    case 'ScalarType': return arg.optional ? [`  c10::optional<at::ScalarType> ${v} = c.optDtype(${i});`] : [`  at::ScalarType ${v} = c.dtype(${i});`];
    case 'Device': return [`  c10::optional<at::Device> ${v} = c.isNullish(${i}) ? c10::optional<at::Device>() : c10::optional<at::Device>(c.device(${i}));`];
    case 'Generator':
      if (!arg.optional) throw new Error('only optional generators are supported');
      return [`  c10::optional<at::Generator> ${v} = c.isNullish(${i}) ? c10::optional<at::Generator>() : c10::optional<at::Generator>(generatorArg(c, ${i}));`];
    case 'str':
      if (arg.optional) {
        return [
          `  std::string ${v}_text;`,
          `  c10::optional<c10::string_view> ${v};`,
          `  if (!c.isNullish(${i})) { ${v}_text = c.string(${i}); ${v} = c10::string_view(${v}_text); }`,
        ];
      }
      return [opt(`c.string(${i})`, 'std::string')];
    default:
      throw new Error(`unsupported argument type ${arg.base}`);
  }
}

function cppFunction(op) {
  if (op.args.length > 16) throw new Error(`ops.table:${op.line}: more than 16 arguments (Ctx::kMaxArgs)`);
  const lines = [`// ${op.schema}`, `napi_value ${op.nativeName}(Ctx& c) {`];
  op.args.forEach((a, i) => lines.push(...cppRead(a, i)));
  const pass = op.args.map((a) => (a.list && a.base === 'Tensor' ? `at::TensorList(${a.name})` : a.name));
  const isFunction = !op.variants.has('method') || op.variants.has('function');
  const call = op.cpp || (isFunction ? `at::${op.cppName}(${pass.join(', ')})` : `${pass[0]}.${op.cppName}(${pass.slice(1).join(', ')})`);
  switch (op.returns.kind) {
    case 'tensor': lines.push(`  return c.ret(c.run([&] { return ${call}; }));`); break;
    case 'view': lines.push(`  return c.ret(${call});`); break;
    case 'inplace': lines.push(`  ${call};`, '  return c.undefined();'); break;
    case 'tuple': lines.push(`  return c.retTuple(c.run([&] { return ${call}; }));`); break;
    case 'list': lines.push(`  return c.retList(${call});`); break;
    case 'bool': lines.push(`  return c.retBool(${call});`); break;
    case 'number': lines.push(`  return c.ret(static_cast<double>(${call}));`); break;
  }
  lines.push('}');
  return lines.join('\n');
}

function generateCc(ops) {
  const fns = ops.map(cppFunction).join('\n\n');
  const defs = ops.map((op) =>
    `  r.def("${op.nativeName}", Entry<${op.nativeName}>, {${op.args.map((a) => `"${a.name === 'self' ? 'self' : a.jsName}"`).join(', ')}}, "${op.jsName}");`);
  return `// GENERATED by scripts/gen-ops.mjs from native/ops.table: do not edit.
#include "composite.h"
#include "torchkd.h"

namespace tkd {
namespace {

${fns}

}  // namespace

void registerOps(Registrar& r) {
${defs.join('\n')}
}

}  // namespace tkd
`;
}

// ----------------------------------------------------------------------------------------------- TS

function tsType(arg) {
  let t;
  if (arg.list) t = arg.base === 'Tensor' ? 'Tensor[]' : arg.list === 'any' ? 'number[]' : 'number | number[]';
  else {
    t = { Tensor: 'Tensor', Scalar: 'Scalar', int: 'number', float: 'number', bool: 'boolean', ScalarType: 'DType', str: 'string', Device: 'Device', Generator: 'Generator' }[arg.base];
  }
  if (arg.name === 'rounding_mode') t = "'trunc' | 'floor'";
  if (arg.name === 'reduction') t = arg.default === '"mean"' && /kl_div/.test(arg.op ?? '') ? "'none' | 'mean' | 'sum' | 'batchmean'" : "'none' | 'mean' | 'sum'";
  if (arg.name === 'norm' && arg.base === 'str') t = "'backward' | 'ortho' | 'forward'";
  return arg.optional ? `${t} | null` : t;
}

/** A JS expression testing whether value v fits the argument (for overload selection). */
function tsTest(arg, v) {
  let test;
  if (arg.list) test = arg.list !== 'any' && arg.base !== 'Tensor' ? `(typeof ${v} === 'number' || Array.isArray(${v}))` : `Array.isArray(${v})`;
  else {
    test = {
      Tensor: `${v} instanceof Tensor`, Scalar: `isScalar(${v})`, int: `typeof ${v} === 'number'`,
      float: `typeof ${v} === 'number'`, bool: `typeof ${v} === 'boolean'`, ScalarType: `typeof ${v} === 'string'`,
      str: `typeof ${v} === 'string'`, Device: `typeof ${v} === 'string'`, Generator: `${v} instanceof Generator`,
    }[arg.base];
  }
  if (arg.optional) return `(${v} == null || ${test})`;
  if (arg.default !== undefined) return `(${v} === undefined || ${test})`;
  return test;
}

/** The JS expression handing value v to the native side. */
function tsConvert(op, arg, v) {
  const name = JSON.stringify(arg.jsName);
  const js = JSON.stringify(op.jsName);
  let e;
  if (arg.list && arg.base === 'Tensor') e = `handlesOf(${v}, ${js}, ${name})`;
  // A single int stands for the whole int[N] list, as in PyTorch (adaptive_avg_pool2d(x, 1) is [1, 1]).
  else if (arg.list && arg.list !== 'any') e = `(typeof ${v} === 'number' ? [${Array(Number(arg.list) || 1).fill(v).join(', ')}] : ${v})`;
  else if (arg.base === 'Device') e = `checkDevice(${v} as string)`;
  else if (arg.base === 'Generator') e = `generatorHandle(${v}, ${js})`;
  else if (arg.base === 'Tensor') e = `handleOf(${v}, ${js}, ${name})`;
  else if (arg.base === 'ScalarType') e = `dtypeCode(${v} as DType, ${js})`;
  else e = v;
  if (arg.optional) return `${v} == null ? null : ${e}`;
  if (arg.default !== undefined && e !== v) return `${v} === undefined ? undefined : ${e}`;
  return e;
}

function tsReturnType(op) {
  switch (op.returns.kind) {
    case 'tensor': case 'view': return 'Tensor';
    case 'inplace': return 'this';
    case 'tuple': return `{ ${op.returns.names.map((n) => `${camel(n)}: Tensor`).join('; ')} }`;
    case 'list': return 'Tensor[]';
    case 'bool': return 'boolean';
    case 'number': return 'number';
  }
}

function tsWrapResult(op, call, self) {
  switch (op.returns.kind) {
    case 'tensor': case 'view': return `return wrap(${call});`;
    case 'inplace': return `${call};\n    return ${self};`;
    case 'tuple': return `const r = ${call};\n    return { ${op.returns.names.map((n, i) => `${camel(n)}: wrap(r[${i}])`).join(', ')} };`;
    case 'list': return `return ${call}.map(wrap);`;
    default: return `return ${call};`;
  }
}

const isMethod = (op) => op.variants.has('method');
/** Arguments of the JS call: methods drop self (it is `this`). */
const jsArgs = (op) => (op.args[0]?.name === 'self' ? op.args.slice(1) : op.args);
const hasSelf = (op) => op.args[0]?.name === 'self';

function optionsType(op) {
  return `{ ${jsArgs(op).map((a) => `${a.jsName}?: ${tsType(a)}`).join('; ')} }`;
}

/** The doc comment of an overload: its doc line and schema. */
function docFor(op, indent) {
  const lines = [op.doc, `\`${op.schema}\``].filter(Boolean);
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */`;
}

/** Typed parameters of an overload: each may also be the trailing options object. */
function paramList(op) {
  const args = jsArgs(op);
  const opts = optionsType(op);
  const ps = args.map((a, i) => {
    const optional = args.slice(i).every((b) => b.optional || b.default !== undefined);
    return `${a.jsName}${optional ? '?' : ''}: ${tsType(a)} | ${opts}`;
  });
  // No options object where there is nothing to name: `{}` would accept any value (x.neg(3), and
  // x.max(1) resolving to max() instead of max(dim)).
  return ps;
}

function generateTs(ops) {
  const groups = new Map();
  for (const op of ops) {
    if (!groups.has(op.jsName)) groups.set(op.jsName, []);
    groups.get(op.jsName).push(op);
  }
  const iface = [];
  const impls = [];
  const protos = [];
  const fns = [];
  const nn = [];
  const namespaces = { linalg: [], fft: [] };
  for (const [name, overloads] of groups) {
    const first = overloads[0];
    const selfful = hasSelf(first);
    const maxArgs = Math.max(...overloads.map((o) => jsArgs(o).length), 1);
    const params = Array.from({ length: maxArgs }, (_, i) => `a${i}`);
    const implName = `${name}Op`;
    const sigs = JSON.stringify(overloads.map((o) => jsArgs(o).map((a) => a.jsName)));
    const body = [];
    const firstArg = jsArgs(first)[0];
    // PyTorch's varargs form, t.view(2, 3) for t.view([2, 3]): the method wrapper collects the numbers.
    const varargs = overloads.length === 1 && firstArg?.base === 'int' && firstArg.list === 'any' && isMethod(first);
    body.push(`  if (${params.map((p) => `isOptions(${p})`).join(' || ')}) {`);
    body.push(`    return ${implName}(${selfful ? 'self, ' : ''}...(named(${JSON.stringify(name)}, ${sigs}, [${params.join(', ')}]) as []));`);
    body.push('  }');
    overloads.forEach((op) => {
      const args = jsArgs(op);
      // A single overload needs no type test: its argument conversions report wrong types.
      const single = overloads.length === 1;
      const tests = args.map((a, i) => tsTest(a, `a${i}`));
      for (let i = args.length; i < maxArgs; i++) tests.push(`a${i} === undefined`);
      const conv = args.map((a, i) => tsConvert(op, a, `a${i}`));
      const head = selfful ? ['self.id'] : [];
      const required = args.findIndex((a) => a.optional || a.default !== undefined);
      const nReq = required === -1 ? args.length : required;
      const full = `N.${op.nativeName}(${[...head, ...conv].join(', ')})`;
      const short = `N.${op.nativeName}(${[...head, ...conv.slice(0, nReq)].join(', ')})`;
      const optParams = args.slice(nReq).map((_, i) => `a${nReq + i} === undefined`);
      const indent = single ? '  ' : '    ';
      const emit = (call) => tsWrapResult(op, call, 'self').split('\n').map((l) => indent + l.trim()).join('\n');
      if (!single) body.push(`  if (${tests.join(' && ') || 'true'}) {`);
      if (optParams.length > 0) body.push(`${indent}if (${optParams.join(' && ')}) {\n${emit(short).replace(/^/gm, '  ')}\n${indent}}`);
      body.push(emit(full));
      if (!single) body.push('  }');
    });
    if (overloads.length > 1) {
      const alternatives = overloads.map((o) => `${name}(${jsArgs(o).map((a) => `${a.jsName}${a.optional || a.default !== undefined ? '?' : ''}: ${tsType(a)}`).join(', ')})`);
      body.push(`  return noOverload(${JSON.stringify(name)}, ${JSON.stringify(alternatives)}, [${params.join(', ')}]);`);
    }
    const ret = [...new Set(overloads.map(tsReturnType).map((r) => (r === 'this' ? 'Tensor' : r)))].join(' | ');
    const implParams = [...(selfful ? ['self: Tensor'] : []), ...params.map((p) => `${p}?: unknown`)].join(', ');
    impls.push(`function ${implName}(${implParams}): ${ret} {\n${body.join('\n')}\n}`);

    if (overloads.some(isMethod)) {
      for (const op of overloads.filter(isMethod)) iface.push(`${docFor(op, '    ')}\n    ${name}(${paramList(op).join(', ')}): ${tsReturnType(op)};`);
      if (varargs) {
        iface.push(`${docFor(first, '    ')}\n    ${name}(...${firstArg.jsName}: number[]): ${tsReturnType(first)};`);
        protos.push(`Tensor.prototype.${name} = function (this: Tensor, ...args: unknown[]) {\n  return typeof args[0] === 'number' ? ${implName}(this, args) : ${implName}(this, ...(args as []));\n} as Tensor['${name}'];`);
      } else {
        protos.push(`Tensor.prototype.${name} = function (this: Tensor, ${params.map((p) => `${p}?: unknown`).join(', ')}) {\n  return ${implName}(this, ${params.join(', ')});\n} as Tensor['${name}'];`);
      }
    }
    const fnOps = overloads.filter((o) => ['function', 'nn', 'linalg', 'fft'].some((v) => o.variants.has(v)));
    if (fnOps.length > 0) {
      const exported = RESERVED.has(name) ? `${name}_` : name;
      // Only function variants are torch.*; nn, linalg and fft ops live in their namespaces.
      const exportKw = fnOps.some((o) => o.variants.has('function')) ? 'export ' : '';
      const sigLines = fnOps.map((op) => {
        const ps = paramList(op);
        if (selfful) ps.unshift('input: Tensor');
        const r = tsReturnType(op);
        return `${docFor(op, '')}\n${exportKw}function ${exported}(${ps.join(', ')}): ${r === 'this' ? 'Tensor' : r};`;
      });
      let call = selfful
        ? `${implName}(asTensor(input, ${JSON.stringify(name)}), ${params.join(', ')})`
        : `${implName}(${params.join(', ')})`;
      let implSig = [...(selfful ? ['input: unknown'] : []), ...params.map((p) => `${p}?: unknown`)].join(', ');
      // PyTorch's *operands, torch.einsum('ij,jk->ik', a, b): a trailing Tensor[] may be spread out.
      const lastArg = jsArgs(first).at(-1);
      if (fnOps.length === 1 && !selfful && lastArg?.base === 'Tensor' && lastArg.list) {
        const k = jsArgs(first).length - 1;
        const lead = params.slice(0, k);
        sigLines.push(`${docFor(first, '')}\n${exportKw}function ${exported}(${jsArgs(first).slice(0, k).map((a) => `${a.jsName}: ${tsType(a)}`).concat(`...${lastArg.jsName}: Tensor[]`).join(', ')}): ${ret};`);
        implSig = [...lead.map((p) => `${p}?: unknown`), '...rest: unknown[]'].join(', ');
        call = `rest[0] instanceof Tensor ? ${implName}(${[...lead, 'rest'].join(', ')}) : ${implName}(${[...lead, '...(rest as [])'].join(', ')})`;
      }
      fns.push(`${sigLines.join('\n')}\n${exportKw}function ${exported}(${implSig}): ${ret} {\n  return ${call};\n}`);
      if (RESERVED.has(name) && exportKw) fns.push(`export { ${exported} as ${name} };`);
      if (fnOps.some((o) => o.variants.has('nn'))) nn.push(exported === name ? name : `${name}: ${exported}`);
      if (first.namespace) namespaces[first.namespace].push(`${first.nsName}: ${exported}`);
    }
  }
  const nativeReturn = (op) => ({ tensor: 'Handle', view: 'Handle', inplace: 'void', tuple: 'Handle[]', list: 'Handle[]', bool: 'boolean', number: 'number' })[op.returns.kind];
  const nativeDecl = ops.map((op) => `  ${op.nativeName}(...args: unknown[]): ${nativeReturn(op)};`).join('\n');
  return `// GENERATED by scripts/gen-ops.mjs from native/ops.table: do not edit.
// Tensor methods and torch.* functions for every op of the table. Each op accepts PyTorch's positional
// arguments, or any of them by name in one trailing options object; overloads are chosen by argument type.
import type { Device, DType } from './dtype';
import { checkDevice, dtypeCode } from './dtype';
import { N as native, type Handle } from './native';
import { Generator, generatorHandle } from './random';
import { asTensor, handleOf, handlesOf, isOptions, isScalar, named, noOverload, Tensor, wrap, type Scalar } from './tensor';

/** The native functions generated from the table (arguments are checked on the native side). */
interface NativeOps {
${nativeDecl}
}
const N = native as unknown as NativeOps;

declare module './tensor' {
  interface Tensor {
${iface.join('\n')}
  }
}

${impls.join('\n\n')}

${protos.join('\n\n')}

${fns.join('\n\n')}

/** The ops of the table that torch.nn.functional exposes. */
export const nnFunctional = { ${nn.join(', ')} };

/** torch.linalg */
export const linalg = { ${namespaces.linalg.join(', ')} };

/** torch.fft */
export const fft = { ${namespaces.fft.join(', ')} };
`;
}

// ---------------------------------------------------------------------------------------------- main

const ops = readTable();
const outputs = [[OUT_CC, generateCc(ops)], [OUT_TS, generateTs(ops)]];
if (process.argv.includes('--check')) {
  const stale = outputs.filter(([path, text]) => { try { return readFileSync(path, 'utf8') !== text; } catch { return true; } });
  if (stale.length) {
    console.error(`out of date: ${stale.map(([p]) => p).join(', ')}; run node scripts/gen-ops.mjs`);
    process.exit(1);
  }
} else {
  // Unchanged files keep their mtime, so the native build stays incremental.
  const changed = outputs.filter(([path, text]) => { try { return readFileSync(path, 'utf8') !== text; } catch { return true; } });
  for (const [path, text] of changed) writeFileSync(path, text);
  if (!process.argv.includes('--quiet')) console.log(`${ops.length} overloads; ${changed.length ? `regenerated ${changed.map(([p]) => p.slice(root.length)).join(', ')}` : 'generated files up to date'}`);
}
