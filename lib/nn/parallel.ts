// nn.parallel.DistributedDataParallel: data-parallel training over torch.distributed, on PyTorch's own DDP
// Reducer. Construction checks that every rank has the same parameter shapes and broadcasts rank 0's
// parameters and buffers; the Reducer's hooks on the parameters' gradient accumulators average gradients
// across ranks in buckets while backward is still running (each bucket's all-reduce starts as soon as its
// last gradient is ready), and it rebuilds the buckets in the order gradients arrived after the first
// iteration. The forward bookkeeping (prepare_for_forward / prepare_for_backward, buffer broadcasts,
// noSync) is transcribed from torch/nn/parallel/distributed.py.
import { TorchError } from '../torch/errors';
import { Module } from './module';
import { Tensor } from '../torch/tensor';
import { Function as AutogradFunction, isGradEnabled, noGrad } from '../torch/autograd';
import { versionAtLeast } from '../torch/version';
import type { ProcessGroup } from '../torch/distributed';
import '../torch/distributed'; // sets internals.nativeGroup
import { DN, internals } from '../torch/distributed-native';

/** Python's dist._DEFAULT_FIRST_BUCKET_BYTES. */
const DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024;
/** Buffers and the initial parameters travel in buckets of this size (DDP's broadcast_bucket_size). */
const BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024;
const SYS_MAXSIZE = 9223372036854775807;

export interface DistributedDataParallelOptions {
  /** CUDA modules: the one device this rank's replica lives on (`[localRank]`); inputs are moved there. CPU modules: omit. */
  deviceIds?: (number | string)[] | null;
  /** Broadcast rank 0's buffers before every forward (default true). */
  broadcastBuffers?: boolean;
  /** Default: the default group. */
  processGroup?: ProcessGroup | null;
  /** Bucket size in MiB (default 25, with a 1 MiB first bucket as in PyTorch). */
  bucketCapMb?: number | null;
  /** Search the forward outputs' graph for parameters that get no gradient this iteration (default false). */
  findUnusedParameters?: boolean;
  /** Gradients become views into the buckets (saves a copy; default false). */
  gradientAsBucketView?: boolean;
  /** Verify the parameters across ranks and broadcast rank 0's state at construction (default true). */
  initSync?: boolean;
}

type Forward = { forward(...args: never[]): unknown };

/** The tensors of a nested output (arrays and plain objects), as Python's _find_tensors. */
function findTensors(v: unknown, out: Tensor[] = []): Tensor[] {
  if (v instanceof Tensor) out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => findTensors(x, out));
  else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    Object.values(v).forEach((x) => findTensors(x, out));
  }
  return out;
}

/** Rebuilds a nested value with each tensor replaced by map(tensor). */
function mapTensors(v: unknown, map: (t: Tensor) => Tensor): unknown {
  if (v instanceof Tensor) return map(v);
  if (Array.isArray(v)) return v.map((x) => mapTensors(x, map));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapTensors(x, map)]));
  }
  return v;
}

/**
 * Python's _DDPSink (findUnusedParameters): the outputs pass through one autograd node whose backward hands
 * on their gradients unmaterialized, so outputs left out of the loss give their parameters an undefined
 * gradient, which the Reducer accounts for, instead of no hook call at all.
 */
const DDPSink = AutogradFunction.define({
  name: 'DDPSink',
  forward(ctx, ...inputs: Tensor[]) {
    ctx.setMaterializeGrads(false);
    return inputs.map((t) => t.clone());
  },
  backward(_ctx, ...grads: Tensor[]) {
    return grads;
  },
});

/**
 * torch.nn.parallel.DistributedDataParallel. `const ddp = new nn.parallel.DistributedDataParallel(model)`
 * after torch.distributed.initProcessGroup; `ddp.call(x)` runs the model, and the next backward averages
 * the gradients over the ranks. State dict keys are the module's under `module.`, as in PyTorch.
 */
export class DistributedDataParallel<M extends Module & Forward = Module & Forward> extends Module {
  readonly module: M;
  readonly findUnusedParameters: boolean;
  readonly broadcastBuffers: boolean;
  readonly gradientAsBucketView: boolean;
  readonly deviceIds: (number | string)[] | null;
  /** Bucket capacity in bytes (bucketCapMb · 2^20). */
  readonly bucketBytesCap: number;
  /** Set false by noSync: the next backward accumulates local gradients without communicating. */
  requireBackwardGradSync = true;
  /** @internal */
  requireForwardParamSync = true;
  private readonly group: number;
  private reducer: ReturnType<typeof DN.distDdpReducer> | null;

  constructor(module: M, options: DistributedDataParallelOptions = {}) {
    super();
    const op = 'DistributedDataParallel';
    if (!(module instanceof Module)) throw new TorchError(`${op}(): module must be an nn.Module`);
    this.module = this.registerModule('module', module);
    this.group = internals.nativeGroup(options.processGroup, op);
    this.findUnusedParameters = options.findUnusedParameters ?? false;
    this.broadcastBuffers = options.broadcastBuffers ?? true;
    this.gradientAsBucketView = options.gradientAsBucketView ?? false;

    // Python's _build_params_for_reducer: trainable parameters, each once.
    const seen = new Set<Tensor>();
    const named = module.namedParameters().filter(([, p]) => p.requiresGrad && !seen.has(p) && seen.add(p) !== undefined);
    const params = named.map(([, p]) => p);
    if (params.length === 0) {
      throw new TorchError(`${op}(): DistributedDataParallel is not needed when a module doesn't have any parameter that requires a gradient.`);
    }
    const deviceTypes = new Set(params.map((p) => p.device.split(':')[0]));
    if (deviceTypes.size > 1) throw new TorchError(`${op}(): DistributedDataParallel's input module must be on the same type of devices, but input module parameters locate in {${[...deviceTypes].join(', ')}}.`);
    const onCpu = deviceTypes.has('cpu');
    const ids = options.deviceIds ?? null;
    if (ids !== null && (onCpu || ids.length !== 1)) {
      throw new TorchError(`${op}(): DistributedDataParallel device_ids and output_device arguments only work with single-device/multiple-device GPU modules or CPU modules, but got device_ids [${ids.join(', ')}], and module parameters {${[...new Set(params.map((p) => p.device))].join(', ')}}.`);
    }
    this.deviceIds = ids;

    // Python's _BucketCapacityConfig (2.x) / bucket_bytes_cap (1.13), and the initial bucketing of
    // _ddp_init_helper: one bucket for everything unless unused parameters are searched for.
    const capMb = options.bucketCapMb ?? 25;
    if (!(typeof capMb === 'number' && capMb > 0)) throw new TorchError(`${op}(): bucketCapMb must be a positive number, got ${String(capMb)}`);
    this.bucketBytesCap = Math.floor(capMb * 1024 * 1024);
    const firstCap = !versionAtLeast(2, 0) || options.bucketCapMb == null ? DEFAULT_FIRST_BUCKET_BYTES : this.bucketBytesCap;
    let limits: number[];
    if (!this.findUnusedParameters) limits = [SYS_MAXSIZE];
    else if (!versionAtLeast(2, 0)) limits = [DEFAULT_FIRST_BUCKET_BYTES, this.bucketBytesCap];
    else limits = firstCap < this.bucketBytesCap ? [firstCap, this.bucketBytesCap] : [this.bucketBytesCap];

    if (options.initSync ?? true) {
      DN.distVerifyParams(this.group, params.map((p) => p.id));
      const states = [...module.parameters(), ...(this.broadcastBuffers ? module.buffers() : [])];
      this.broadcastCoalesced(states);
    }
    this.reducer = DN.distDdpReducer(this.group, params.map((p) => p.id), limits, this.bucketBytesCap,
      this.findUnusedParameters, this.gradientAsBucketView, firstCap, named.map(([n]) => n));
  }

  /** Runs the wrapped module's call() with DDP's bookkeeping around it. */
  forward(...inputs: Parameters<M['forward']>): ReturnType<M['forward']> {
    const device = this.deviceIds === null ? null : (typeof this.deviceIds[0] === 'number' ? `cuda:${this.deviceIds[0]}` : String(this.deviceIds[0]));
    const args = device === null ? inputs : inputs.map((x) => mapTensors(x, (t) => t.to(device)));
    return this.runForward(() => (this.module.call as (...a: unknown[]) => unknown)(...args)) as ReturnType<M['forward']>;
  }

  /**
   * @internal Python's _pre_forward / _post_forward around fn, whose result is the forward output (the
   * trainer runs a whole distillation step here: its losses are the outputs searched for unused parameters).
   */
  runForward<T>(fn: () => T): T {
    const reducer = this.reducerOrThrow();
    const grad = isGradEnabled();
    if (grad && this.requireBackwardGradSync) DN.distDdpPrepareForForward(reducer);
    if (grad) DN.distDdpRebuildBuckets(reducer);
    if (this.requireForwardParamSync && this.broadcastBuffers) {
      const buffers = this.module.buffers();
      if (buffers.length > 0) noGrad(() => this.broadcastCoalesced(buffers));
    }
    let output = fn();
    if (grad && this.requireBackwardGradSync) {
      this.requireForwardParamSync = true;
      DN.distDdpPrepareForBackward(reducer, this.findUnusedParameters ? findTensors(output).map((t) => t.id) : []);
      if (this.findUnusedParameters) output = this.sink(output);
    } else {
      this.requireForwardParamSync = false;
    }
    return output;
  }

  private sink<T>(output: T): T {
    const tensors = findTensors(output);
    const through = tensors.filter((t) => t.gradFn !== null);
    if (through.length === 0) return output;
    const passed = DDPSink.apply(...through);
    const replaced = new Map(through.map((t, i) => [t, (Array.isArray(passed) ? passed : [passed])[i]]));
    return mapTensors(output, (t) => replaced.get(t) ?? t) as T;
  }

  /**
   * PyTorch's no_sync(): the backward passes inside fn accumulate gradients locally; the first one after it
   * synchronizes the accumulated gradients. Without fn, returns a disposable scope (`using _ = ddp.noSync()`).
   * fn may be async: the scope ends when its promise settles.
   */
  noSync<T>(fn: () => T): T;
  noSync(): Disposable;
  noSync<T>(fn?: () => T): T | Disposable {
    const old = this.requireBackwardGradSync;
    this.requireBackwardGradSync = false;
    const restore = () => { this.requireBackwardGradSync = old; };
    if (fn === undefined) return { [Symbol.dispose]: restore };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      restore();
      throw e;
    }
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  }

  /** Removes the Reducer's gradient hooks and returns the wrapped module, which stays as it is. */
  unwrap(): M {
    if (this.reducer !== null) DN.distDdpFree(this.reducer);
    this.reducer = null;
    return this.module;
  }

  /** Removes the hooks and frees the module's parameters and buffers. */
  override dispose(): void {
    this.unwrap();
    super.dispose();
  }

  private broadcastCoalesced(tensors: Tensor[]): void {
    if (tensors.length > 0) DN.distBroadcastCoalesced(this.group, tensors.map((t) => t.id), BROADCAST_BUCKET_BYTES, 0);
  }

  private reducerOrThrow() {
    if (this.reducer === null) throw new TorchError('DistributedDataParallel.forward(): the module was unwrapped or disposed');
    return this.reducer;
  }

  override extraRepr(): string {
    return `bucketCapMb=${this.bucketBytesCap / 1024 / 1024}, findUnusedParameters=${this.findUnusedParameters}`;
  }
}
