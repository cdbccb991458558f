// torch.distributed: key-value stores, process groups and collectives over PyTorch's own c10d (gloo; nccl in
// CUDA builds), with PyTorch's names in camelCase. What Python's distributed_c10d.py and rendezvous.py do
// around the C++ objects (the rendezvous of each init method, the store prefixes, group names, the
// store-based barriers, rank translation, argument checks) is transcribed here, per libtorch version where
// Python changed it, so that a torchkd rank and a Python rank can share a group (see initProcessGroup's
// checkCollectives). native/distributed.cc has the ordering, checking and completion machinery.
import { DN, internals, type Opaque } from './distributed-native';
import { argError, kindOf, TorchError } from './errors';
import { isTensor, Tensor, wrap } from './tensor';
import { N } from './native';
import { versionAtLeast } from './version';
import { viewAsReal } from './ops.generated';


// ------------------------------------------------------------------------------------------- constants

/** torch.distributed.ReduceOp (AVG needs a backend that has it: nccl, not gloo). */
export const ReduceOp = {
  SUM: 'SUM', AVG: 'AVG', PRODUCT: 'PRODUCT', MIN: 'MIN', MAX: 'MAX', BAND: 'BAND', BOR: 'BOR', BXOR: 'BXOR',
} as const;
export type ReduceOpName = keyof typeof ReduceOp;
const REDUCE_CODES: Record<ReduceOpName, number> = { SUM: 0, AVG: 1, PRODUCT: 2, MIN: 3, MAX: 4, BAND: 5, BOR: 6, BXOR: 7 };

/** torch.distributed.Backend names. */
export const Backend = { GLOO: 'gloo', NCCL: 'nccl' } as const;
export type BackendName = 'gloo' | 'nccl';

/** PyTorch's default_pg_timeout (30 minutes), in milliseconds; nccl groups default to 10 minutes in 2.x. */
export const defaultPgTimeout = 30 * 60 * 1000;

function defaultTimeout(backend: BackendName): number {
  return backend === 'nccl' && versionAtLeast(2, 0) ? 10 * 60 * 1000 : defaultPgTimeout;
}

export function isAvailable(): boolean {
  return true;
}
export function isGlooAvailable(): boolean {
  return DN.distAvailable().gloo;
}
/** Whether this build has NCCL (a CUDA libtorch with NCCL's header at build time). */
export function isNcclAvailable(): boolean {
  return DN.distAvailable().nccl;
}

// ---------------------------------------------------------------------------------------------- stores

/**
 * A c10d key-value store: what the ranks of a group rendezvous through. Values are bytes (strings are
 * stored as UTF-8); get() returns a Buffer. Blocking calls (get of a missing key, wait) block the calling
 * thread up to the store's timeout, as in PyTorch.
 */
export class Store {
  /** @internal */
  readonly handle: Opaque;

  /** @internal */
  constructor(handle: Opaque) {
    this.handle = handle;
  }

  set(key: string, value: string | Uint8Array): void {
    DN.distStoreSet(this.handle, key, value);
  }
  /** The value of key, waiting for it up to the timeout. */
  get(key: string): Buffer {
    return DN.distStoreGet(this.handle, key);
  }
  /** Adds amount to the integer at key (created as 0) and returns the new value. */
  add(key: string, amount: number): number {
    return DN.distStoreAdd(this.handle, key, amount);
  }
  /** Sets key to desired when its value is expected (or when key is missing and expected is ''); returns the value now. */
  compareSet(key: string, expectedValue: string | Uint8Array, desiredValue: string | Uint8Array): Buffer {
    return DN.distStoreCompareSet(this.handle, key, expectedValue, desiredValue);
  }
  /** Waits until every key exists (timeout in ms, default the store's). */
  wait(keys: string[], timeout?: number): void {
    DN.distStoreWait(this.handle, keys, timeout ?? null);
  }
  /** Whether every key exists. */
  check(keys: string[]): boolean {
    return DN.distStoreCheck(this.handle, keys);
  }
  deleteKey(key: string): boolean {
    return DN.distStoreDeleteKey(this.handle, key);
  }
  numKeys(): number {
    return DN.distStoreNumKeys(this.handle);
  }
  /** The timeout of blocking calls, in milliseconds. */
  setTimeout(timeout: number): void {
    DN.distStoreSetTimeout(this.handle, checkMs(timeout, 'Store.setTimeout'));
  }
  get timeout(): number {
    return DN.distStoreTimeout(this.handle);
  }
}

export interface TCPStoreOptions {
  /** Milliseconds (PyTorch's default: 300 s). */
  timeout?: number;
  /** The server waits in its constructor until worldSize ranks have connected (default true). */
  waitForWorkers?: boolean;
  /** Several stores in one process may share host:port (default false). */
  multiTenant?: boolean;
  /** The libuv server (libtorch 2.4+; default true, or the USE_LIBUV variable). */
  useLibuv?: boolean;
}

/**
 * torch.distributed.TCPStore: a server in the isMaster process, clients elsewhere. `new TCPStore(host, port,
 * worldSize, isMaster, options)`; port 0 on the server binds a free port (see .port).
 */
export class TCPStore extends Store {
  readonly host: string;

  constructor(hostName: string, port: number, worldSize?: number | null, isMaster = false, options: TCPStoreOptions = {}) {
    if (typeof hostName !== 'string') argError('TCPStore', `hostName must be a string, got ${kindOf(hostName)}`);
    if (!Number.isInteger(port)) argError('TCPStore', `port must be an integer, got ${String(port)}`);
    if (worldSize != null && !(Number.isInteger(worldSize) && worldSize > 0)) {
      argError('TCPStore', `worldSize must be a positive integer, got ${String(worldSize)}`);
    }
    super(DN.distTcpStore(hostName, port, worldSize ?? null, isMaster, checkMs(options.timeout ?? 300_000, 'TCPStore'),
      options.waitForWorkers ?? true, options.multiTenant ?? false, options.useLibuv ?? useLibuvDefault()));
    this.host = hostName;
  }
  get port(): number {
    return DN.distStorePort(this.handle);
  }
}

/** torch.distributed.FileStore: a store in a file that every rank can reach (a shared file system). */
export class FileStore extends Store {
  constructor(fileName: string, worldSize = -1) {
    if (typeof fileName !== 'string' || fileName === '') argError('FileStore', 'fileName must be a non-empty string');
    super(DN.distFileStore(fileName, worldSize));
  }
}

/** torch.distributed.HashStore: an in-process store (tests, single-process groups). */
export class HashStore extends Store {
  constructor() {
    super(DN.distHashStore());
  }
}

/** torch.distributed.PrefixStore: every key of `store` under `prefix/`. */
export class PrefixStore extends Store {
  readonly underlyingStore: Store;
  constructor(prefix: string, store: Store) {
    if (!(store instanceof Store)) argError('PrefixStore', `store must be a Store, got ${kindOf(store)}`);
    super(DN.distPrefixStore(prefix, store.handle));
    this.underlyingStore = store;
  }
}

function useLibuvDefault(): boolean {
  return (process.env.USE_LIBUV ?? '1') === '1';
}

function checkMs(v: unknown, op: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    return argError(op, `timeout must be a positive integer number of milliseconds, got ${String(v)}`);
  }
  return v;
}

// ------------------------------------------------------------------------------------------ work handles

/**
 * What an `asyncOp: true` collective returns (PyTorch's Work): `await work.wait()` resolves once the op has
 * completed, without blocking the event loop; it rejects with the op's TorchError.
 */
export class Work {
  /** @internal */
  readonly handle: Opaque | null;
  private source = -1;

  /** @internal */
  constructor(handle: Opaque | null, made?: typeof MADE_HERE) {
    if (made !== MADE_HERE) throw new TorchError('Work: works are returned by the async collectives, not constructed');
    this.handle = handle;
  }

  async wait(): Promise<true> {
    if (this.handle !== null) this.source = await DN.distWorkWait(this.handle);
    return true;
  }
  /** Blocks the calling thread until the op completes (PyTorch's blocking work.wait()). */
  waitSync(): true {
    if (this.handle !== null) this.source = DN.distWorkWaitSync(this.handle);
    return true;
  }
  isCompleted(): boolean {
    return this.handle === null || DN.distWorkIsCompleted(this.handle);
  }
  /** The sender of a completed irecv (its global rank), -1 for other ops. */
  sourceRank(): number {
    return this.source;
  }
}

// ---------------------------------------------------------------------------------------------- groups

const MADE_HERE: unique symbol = Symbol('torch.distributed');

/**
 * A process group (torch.distributed.ProcessGroup). Collectives take `{ group }`; without one they use the
 * default group of initProcessGroup. A rank outside a group created by newGroup gets a group whose ops do
 * nothing (PyTorch's GroupMember.NON_GROUP_MEMBER).
 */
export class ProcessGroup {
  /** @internal native group id; null on ranks that are not members */
  readonly id: number | null;
  /** Global ranks of the members, by group rank. */
  readonly ranks: readonly number[];
  readonly groupName: string;
  readonly backend: BackendName;
  /** @internal */
  readonly groupRank: number;
  /** @internal the store new groups build on (default group only) */
  readonly store: Store | null;

  /** @internal */
  constructor(id: number | null, ranks: number[], groupName: string, backend: BackendName, groupRank: number, store: Store | null,
    made?: typeof MADE_HERE) {
    if (made !== MADE_HERE) throw new TorchError('ProcessGroup: groups are made by initProcessGroup and newGroup, not constructed');
    this.id = id;
    this.ranks = ranks;
    this.groupName = groupName;
    this.backend = backend;
    this.groupRank = groupRank;
    this.store = store;
  }
  /** This process's rank in the group (-1 when not a member). */
  rank(): number {
    return this.groupRank;
  }
  size(): number {
    return this.ranks.length;
  }
  /** @internal */
  get member(): boolean {
    return this.id !== null;
  }
}

interface World {
  defaultGroup: ProcessGroup | null;
  groupCount: number;
  groups: Set<ProcessGroup>;
  checks: boolean;
  initMethod: string | null;
}

const world: World = { defaultGroup: null, groupCount: 0, groups: new Set(), checks: true, initMethod: null };

export interface InitProcessGroupOptions {
  /** 'gloo' (CPU tensors, and CUDA tensors through host copies) or 'nccl' (CUDA tensors); default: nccl when
   *  CUDA is available and this build has it, else gloo (PyTorch's choice). */
  backend?: BackendName;
  /** 'env://' (default: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE), 'tcp://host:port' or 'file:///path'. */
  initMethod?: string;
  /** Instead of initMethod: a store every rank shares (then worldSize and rank are required). */
  store?: Store;
  worldSize?: number;
  rank?: number;
  /** Milliseconds every collective and the rendezvous may wait (default 30 minutes; nccl 10 minutes). */
  timeout?: number;
  /**
   * Check that every rank calls the same collectives with tensors of the same shape and dtype (default
   * true, or TORCHKD_CHECK_COLLECTIVES=0): a mismatch throws a TorchError on every rank where the backend
   * would abort the process or compute garbage. The checks run on a private gloo group; a group shared with
   * Python ranks must turn them off (their data path is PyTorch's either way).
   */
  checkCollectives?: boolean;
}

/** Whether initProcessGroup has run (and destroyProcessGroup has not). */
export function isInitialized(): boolean {
  return world.defaultGroup !== null;
}

/** Whether this process was started by a torchrun-style launcher (`torchkd run`, torchrun). */
export function isTorchelasticLaunched(): boolean {
  return process.env.TORCHELASTIC_RUN_ID !== undefined;
}

function defaultGroup(op: string): ProcessGroup {
  if (world.defaultGroup === null) {
    throw new TorchError(`distributed.${op}(): Default process group has not been initialized, please make sure to call initProcessGroup.`);
  }
  return world.defaultGroup;
}

function groupOf(group: ProcessGroup | null | undefined, op: string): ProcessGroup {
  const def = defaultGroup(op);
  if (group === undefined || group === null) return def;
  if (!(group instanceof ProcessGroup)) return argError(`distributed.${op}`, `group must be a ProcessGroup, got ${kindOf(group)}`);
  if (!world.groups.has(group)) throw new TorchError(`distributed.${op}(): the process group was destroyed`);
  return group;
}

function intEnv(name: string, op: string): number {
  const v = process.env[name];
  if (!v) throw new TorchError(`${op}(): Error initializing torch.distributed using env:// rendezvous: environment variable ${name} expected, but not set`);
  const n = Number(v);
  if (!Number.isInteger(n)) throw new TorchError(`${op}(): environment variable ${name} must be an integer, got '${v}'`);
  return n;
}

/** Python's rendezvous(): the store, rank and world size an init method names. */
function rendezvous(url: string, rankArg: number, worldSizeArg: number, timeout: number): { store: Store; rank: number; worldSize: number } {
  const op = 'distributed.initProcessGroup';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return argError(op, `initMethod must be a URL (env://, tcp://host:port, file:///path), got '${url}'`);
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  const query = Object.fromEntries(parsed.searchParams.entries());
  if (('rank' in query || 'world_size' in query) && (rankArg !== -1 || worldSizeArg !== -1)) {
    throw new TorchError(`${op}(): The url: ${url} has node-specific arguments(rank, world_size) already.`);
  }
  const rendezvousError = (m: string) => new TorchError(`${op}(): Error initializing torch.distributed using ${scheme}:// rendezvous: ${m}`);
  const need = (name: 'rank' | 'world_size', arg: number): number => {
    if (name in query) return Number(query[name]);
    if (arg !== -1) return arg;
    throw rendezvousError(`${name === 'rank' ? 'rank' : 'world size'} parameter missing`);
  };
  const useLibuv = (query.use_libuv ?? process.env.USE_LIBUV ?? '1') === '1';
  // Python's _create_c10d_store: rank 0 hosts the server (or every rank is a client of a launcher's store).
  const tcp = (host: string, port: number, rank: number, worldSize: number): Store => {
    if (!(port >= 0 && port < 65536)) throw new TorchError(`${op}(): port must have value from 0 to 65535 but was ${port}.`);
    const agent = process.env.TORCHELASTIC_USE_AGENT_STORE === 'True';
    const store = new TCPStore(host, port, worldSize, !agent && rank === 0, { timeout, multiTenant: !agent, useLibuv });
    if (agent && !versionAtLeast(2, 0)) return new PrefixStore(`/worker/attempt_${process.env.TORCHELASTIC_RESTART_COUNT ?? '0'}`, store);
    return store;
  };
  if (scheme === 'env') {
    const rank = 'rank' in query ? Number(query.rank) : rankArg !== -1 ? rankArg : intEnv('RANK', op);
    const worldSize = 'world_size' in query ? Number(query.world_size) : worldSizeArg !== -1 ? worldSizeArg : intEnv('WORLD_SIZE', op);
    const addr = process.env.MASTER_ADDR;
    if (!addr) throw rendezvousError('environment variable MASTER_ADDR expected, but not set');
    const port = intEnv('MASTER_PORT', op);
    return { store: tcp(addr, port, rank, worldSize), rank, worldSize };
  }
  if (scheme === 'tcp') {
    if (!parsed.port) throw rendezvousError('port number missing');
    const rank = need('rank', rankArg);
    const worldSize = need('world_size', worldSizeArg);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return { store: tcp(host, Number(parsed.port), rank, worldSize), rank, worldSize };
  }
  if (scheme === 'file') {
    const path = decodeURIComponent(parsed.pathname);
    if (!path) throw rendezvousError('path missing');
    const rank = need('rank', rankArg);
    const worldSize = need('world_size', worldSizeArg);
    return { store: new FileStore(path, worldSize), rank, worldSize };
  }
  throw new TorchError(`${op}(): No rendezvous handler for ${scheme}://`);
}

/** Sleeps the calling thread (the store-based barrier polls as Python's does). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Python's _store_based_barrier: every rank checks in on a counter in the store, then waits for all. */
function storeBasedBarrier(rank: number, store: Store, key: string, worldSize: number, timeout: number): void {
  const started = Date.now();
  store.add(key, 1);
  if (versionAtLeast(2, 0)) {
    const last = `${key}:last_worker`;
    if (store.add(key, 0) === worldSize) store.set(last, '1');
    for (;;) {
      try {
        store.wait([last], 10_000);
        return;
      } catch (e) {
        if (Date.now() - started > timeout) {
          throw new TorchError(`distributed.initProcessGroup(): Timed out initializing process group in store based barrier on rank ${rank}, for key: ${key} (world_size=${worldSize}, num_workers_joined=${store.add(key, 0)}, timeout=${timeout} ms error=${(e as Error).message})`);
        }
      }
    }
  }
  let count = store.add(key, 0);
  while (count !== worldSize) {
    sleepMs(10);
    count = store.add(key, 0);
    if (Date.now() - started > timeout) {
      throw new TorchError(`distributed.initProcessGroup(): Timed out initializing process group in store based barrier on rank: ${rank}, for key: ${key} (world_size=${worldSize}, worker_count=${count}, timeout=${timeout} ms)`);
    }
  }
}

function checksEnabled(option: boolean | undefined): boolean {
  if (option !== undefined) return option;
  return process.env.TORCHKD_CHECK_COLLECTIVES !== '0';
}

/**
 * Python's _new_process_group_helper: the group's store prefix, its backend (on the device prefix from
 * 2.x), names, and the collective-check group. Returns the native id, or null when this rank is not a member.
 */
function newNativeGroup(backend: BackendName, store: Store, name: string, desc: string, rank: number, size: number,
  globalRanks: number[], timeout: number, checks: boolean): { id: number; prefixStore: Store } {
  const v2 = versionAtLeast(2, 0);
  const prefixStore = new PrefixStore(v2 ? `${name}/` : name, store);
  const backendStore = v2 ? new PrefixStore(backend === 'nccl' ? 'cuda/' : 'cpu/', prefixStore) : prefixStore;
  const checkStore = checks ? new PrefixStore('torchkd_check', prefixStore) : null;
  const id = DN.distNewGroup(backend, prefixStore.handle, backendStore.handle, rank, size, timeout, name, desc, globalRanks,
    checkStore?.handle ?? null);
  if (v2) DN.distSetSequenceNumber(id);
  return { id, prefixStore };
}

/** TORCH_DIST_INIT_BARRIER (2.x): the store-based barrier after a group is created, off by default. */
function barrierAfterInit(): boolean {
  return !versionAtLeast(2, 0) || Number(process.env.TORCH_DIST_INIT_BARRIER ?? '0') === 1;
}

/**
 * torch.distributed.init_process_group: joins this process to the default group (blocking until every rank
 * has joined, as in PyTorch). `initProcessGroup({ backend: 'gloo' })` reads the env:// variables a launcher
 * sets (`torchkd run`, torchrun).
 */
export function initProcessGroup(options: InitProcessGroupOptions = {}): void {
  const op = 'distributed.initProcessGroup';
  if (options === null || typeof options !== 'object') argError(op, `options must be an object, got ${kindOf(options)}`);
  if (world.defaultGroup !== null) throw new TorchError(`${op}(): trying to initialize the default process group twice!`);
  const backend = options.backend ?? (N.cudaIsAvailable() && isNcclAvailable() ? 'nccl' : 'gloo');
  if (backend !== 'gloo' && backend !== 'nccl') argError(op, `backend must be 'gloo' or 'nccl', got ${String(backend)}`);
  if (options.store !== undefined && options.initMethod !== undefined) argError(op, 'Cannot specify both initMethod and store.');
  const timeout = checkMs(options.timeout ?? defaultTimeout(backend), op);
  let rank = options.rank ?? -1;
  let worldSize = options.worldSize ?? -1;
  let store: Store;
  let initMethod: string | null = null;
  if (options.store !== undefined) {
    if (!(options.store instanceof Store)) argError(op, `store must be a distributed Store, got ${kindOf(options.store)}`);
    if (!(worldSize > 0)) argError(op, 'worldSize must be positive if using store');
    if (!(rank >= 0)) argError(op, 'rank must be non-negative if using store');
    store = options.store;
  } else {
    initMethod = options.initMethod ?? 'env://';
    const r = rendezvous(initMethod, rank, worldSize, timeout);
    ({ rank, worldSize } = r);
    r.store.setTimeout(timeout);
    store = new PrefixStore('default_pg', r.store);
  }
  if (!(Number.isInteger(worldSize) && worldSize > 0)) argError(op, `worldSize must be a positive integer, got ${worldSize}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < worldSize)) argError(op, `rank must be in [0, ${worldSize}), got ${rank}`);
  const checks = checksEnabled(options.checkCollectives);
  const name = String(world.groupCount++);
  const { id, prefixStore } = newNativeGroup(backend, store, name, 'default_pg', rank, worldSize, [], timeout, checks);
  const ranks = Array.from({ length: worldSize }, (_, i) => i);
  // New groups build on the store Python keeps for the default group: 2.x its prefix store, 1.13 the parent.
  const group = new ProcessGroup(id, ranks, name, backend, rank, versionAtLeast(2, 0) ? prefixStore : store, MADE_HERE);
  world.defaultGroup = group;
  world.groups.add(group);
  world.checks = checks;
  world.initMethod = initMethod;
  if (barrierAfterInit()) {
    storeBasedBarrier(rank, store, `store_based_barrier_key:${versionAtLeast(2, 0) ? name : world.groupCount}`, worldSize, timeout);
    if (!versionAtLeast(2, 0)) DN.distSetSequenceNumber(id);
  }
}

export interface NewGroupOptions {
  timeout?: number;
  backend?: BackendName;
}

/**
 * torch.distributed.new_group: a group of some ranks of the default group (all when ranks is omitted).
 * Every rank of the default group must call it, members or not, in the same order.
 */
export function newGroup(ranks?: number[] | null, options: NewGroupOptions = {}): ProcessGroup {
  const op = 'distributed.newGroup';
  const def = defaultGroup('newGroup');
  const globalRank = def.rank();
  const worldSize = def.size();
  const backend = options.backend ?? def.backend;
  const timeout = checkMs(options.timeout ?? defaultTimeout(backend), op);
  let members: number[];
  let groupRank: number;
  if (ranks != null) {
    if (!Array.isArray(ranks) || ranks.some((r) => !Number.isInteger(r))) argError(op, 'ranks must be an array of integers');
    members = [...ranks].sort((a, b) => a - b);
    if (members.length > worldSize) {
      throw new TorchError(`${op}(): the new group's world size should be less or equal to the world size set by initProcessGroup`);
    }
    for (const r of members) {
      if (r < 0 || r >= worldSize) throw new TorchError(`${op}(): The new group's rank should be within the world_size set by initProcessGroup`);
    }
    groupRank = members.indexOf(globalRank);
  } else {
    members = Array.from({ length: worldSize }, (_, i) => i);
    groupRank = globalRank;
  }
  const name = String(world.groupCount++);
  const store = def.store as Store;
  let group: ProcessGroup;
  if (groupRank < 0) {
    group = new ProcessGroup(null, members, name, backend, -1, null, MADE_HERE);
  } else {
    const { id } = newNativeGroup(backend, store, name, 'undefined', groupRank, members.length, members, timeout, world.checks);
    group = new ProcessGroup(id, members, name, backend, groupRank, null, MADE_HERE);
  }
  world.groups.add(group);
  if (barrierAfterInit()) {
    storeBasedBarrier(globalRank, store, `store_based_barrier_key:${versionAtLeast(2, 0) ? name : world.groupCount}`, worldSize, timeout);
    if (!versionAtLeast(2, 0) && group.id !== null) DN.distSetSequenceNumber(group.id);
  }
  return group;
}

/**
 * torch.distributed.destroy_process_group: without a group (or with the default one), every group, after
 * which initProcessGroup may be called again.
 */
export function destroyProcessGroup(group?: ProcessGroup | null): void {
  const def = defaultGroup('destroyProcessGroup');
  const all = group === undefined || group === null || group === def;
  const doomed = all ? [...world.groups] : [groupOf(group, 'destroyProcessGroup')];
  for (const g of doomed) {
    if (g.id !== null) DN.distDestroyGroup(g.id);
    world.groups.delete(g);
  }
  if (all) {
    world.defaultGroup = null;
    world.groupCount = 0;
    world.initMethod = null;
  }
}

/** This process's rank in the group (default: the default group); -1 when it is not a member. */
export function getRank(group?: ProcessGroup | null): number {
  return groupOf(group, 'getRank').rank();
}

/** The number of ranks in the group (default: the default group); -1 when this process is not a member. */
export function getWorldSize(group?: ProcessGroup | null): number {
  const g = groupOf(group, 'getWorldSize');
  return g.member ? g.size() : -1;
}

export function getBackend(group?: ProcessGroup | null): BackendName {
  return groupOf(group, 'getBackend').backend;
}

/** The global ranks of a group's members, by group rank. */
export function getProcessGroupRanks(group?: ProcessGroup | null): number[] {
  return [...groupOf(group, 'getProcessGroupRanks').ranks];
}

/** The global rank of a group's member. */
export function getGlobalRank(group: ProcessGroup, groupRank: number): number {
  const g = groupOf(group, 'getGlobalRank');
  const r = g.ranks[groupRank];
  if (r === undefined) throw new TorchError(`distributed.getGlobalRank(): Group rank ${groupRank} is not part of group ${g.groupName}`);
  return r;
}

/** A global rank's rank in a group. */
export function getGroupRank(group: ProcessGroup, globalRank: number): number {
  const g = groupOf(group, 'getGroupRank');
  const r = g.ranks.indexOf(globalRank);
  if (r < 0) throw new TorchError(`distributed.getGroupRank(): Global rank ${globalRank} is not part of group ${g.groupName}`);
  return r;
}

// ------------------------------------------------------------------------------------------ collectives

export interface CollectiveOptions {
  group?: ProcessGroup | null;
  /** Return a Work handle at once instead of waiting (default false). */
  asyncOp?: boolean;
}
export interface ReduceOptions extends CollectiveOptions {
  /** Default ReduceOp.SUM. */
  op?: ReduceOpName;
}

type Result<O> = O extends { asyncOp: true } ? Work : undefined;

/** The group of a collective, or null (with PyTorch's warning) when this rank is not a member. */
function memberGroup(options: CollectiveOptions | undefined, op: string): ProcessGroup | null {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options) || isTensor(options))) {
    argError(`distributed.${op}`, `options must be an object, got ${kindOf(options)}`);
  }
  const g = groupOf(options?.group, op);
  if (!g.member) {
    process.emitWarning(`Running ${op} on global rank ${getRank()} which does not belong to the given group.`);
    return null;
  }
  return g;
}

function tensorArg(t: unknown, op: string, name: string): Tensor {
  if (!isTensor(t)) return argError(`distributed.${op}`, `Invalid function argument. Expected parameter \`${name}\` of type Tensor, but got ${kindOf(t)} instead.`);
  return t;
}

function tensorListArg(list: unknown, op: string, name: string): Tensor[] {
  if (!Array.isArray(list) || !list.every(isTensor)) {
    return argError(`distributed.${op}`, `Invalid function argument. Expected parameter \`${name}\` of type List[Tensor], but got ${kindOf(list)} instead.`);
  }
  return list;
}

function sameDtype(op: string, tensors: Tensor[]): void {
  if (tensors.length > 0 && tensors.some((t) => t.dtype !== tensors[0].dtype)) {
    throw new TorchError(`distributed.${op}(): Invalid usage of tensors with different dtypes; Found ${tensors[0].dtype} and ${tensors.find((t) => t.dtype !== tensors[0].dtype)?.dtype}`);
  }
}

function reduceCode(op: unknown, fn: string): number {
  const key = typeof op === 'string' ? op.toUpperCase() : op;
  if (op === undefined) return 0;
  if (typeof key !== 'string' || !(key in REDUCE_CODES)) {
    return argError(`distributed.${fn}`, `op must be a ReduceOp (${Object.keys(ReduceOp).join(', ')}), got ${String(op)}`);
  }
  return REDUCE_CODES[key as ReduceOpName];
}

const isComplexDtype = (t: Tensor) => t.dtype === 'complex64' || t.dtype === 'complex128';

/** Complex tensors travel as real views (Python's view_as_real), for the ops whose reduction allows it. */
function realView(t: Tensor, op: string, reduce?: number): Tensor {
  if (!isComplexDtype(t)) return t;
  if (reduce !== undefined && reduce !== REDUCE_CODES.SUM && reduce !== REDUCE_CODES.AVG) {
    const name = Object.keys(REDUCE_CODES)[reduce];
    throw new TorchError(`distributed.${op}(): ${op} does not support ${name} on complex tensors`);
  }
  return viewAsReal(t);
}

/** Runs a native collective on real views of complex tensors (freed once the op no longer needs them). */
function withViews<R>(views: Tensor[], originals: Tensor[], run: () => R): R {
  const made = views.filter((v, i) => v !== originals[i]);
  try {
    return run();
  } finally {
    // The native side holds its own references; the JS wrappers of the views can go.
    for (const v of made) v.dispose();
  }
}

function finish(h: Opaque | undefined, async: boolean): Work | undefined {
  return async ? new Work(h as Opaque, MADE_HERE) : undefined;
}

function groupRankOf(g: ProcessGroup, globalRank: unknown, op: string, name: string): number {
  if (!Number.isInteger(globalRank)) return argError(`distributed.${op}`, `${name} must be an integer rank, got ${String(globalRank)}`);
  const r = g.ranks.indexOf(globalRank as number);
  if (r < 0) throw new TorchError(`distributed.${op}(): Global rank ${String(globalRank)} is not part of group ${g.groupName}`);
  return r;
}

/** torch.distributed.all_reduce: tensor becomes the reduction (default sum) of every rank's tensor, in place. */
export function allReduce<O extends ReduceOptions>(tensor: Tensor, options?: O): Result<O> {
  const g = memberGroup(options, 'allReduce');
  const t = tensorArg(tensor, 'allReduce', 'tensor');
  if (g === null) return undefined as Result<O>;
  const op = reduceCode(options?.op, 'allReduce');
  const async = options?.asyncOp ?? false;
  const v = realView(t, 'allReduce', op);
  return withViews([v], [t], () => finish(DN.distAllReduce(g.id as number, v.id, op, async), async)) as Result<O>;
}

/** torch.distributed.broadcast: every rank's tensor becomes src's (src is a global rank). */
export function broadcast<O extends CollectiveOptions>(tensor: Tensor, src: number, options?: O): Result<O> {
  const g = memberGroup(options, 'broadcast');
  const t = tensorArg(tensor, 'broadcast', 'tensor');
  if (g === null) return undefined as Result<O>;
  const root = groupRankOf(g, src, 'broadcast', 'src');
  const async = options?.asyncOp ?? false;
  const v = realView(t, 'broadcast');
  return withViews([v], [t], () => finish(DN.distBroadcast(g.id as number, v.id, root, async), async)) as Result<O>;
}

/** torch.distributed.reduce: dst's tensor becomes the reduction of every rank's (others' are unspecified). */
export function reduce<O extends ReduceOptions>(tensor: Tensor, dst: number, options?: O): Result<O> {
  const g = memberGroup(options, 'reduce');
  const t = tensorArg(tensor, 'reduce', 'tensor');
  if (g === null) return undefined as Result<O>;
  const root = groupRankOf(g, dst, 'reduce', 'dst');
  const op = reduceCode(options?.op, 'reduce');
  const async = options?.asyncOp ?? false;
  const v = realView(t, 'reduce', op);
  return withViews([v], [t], () => finish(DN.distReduce(g.id as number, v.id, root, op, async), async)) as Result<O>;
}

/** torch.distributed.all_gather: tensorList[r] becomes rank r's tensor (one list entry per rank). */
export function allGather<O extends CollectiveOptions>(tensorList: Tensor[], tensor: Tensor, options?: O): Result<O> {
  const g = memberGroup(options, 'allGather');
  const list = tensorListArg(tensorList, 'allGather', 'tensor_list');
  const t = tensorArg(tensor, 'allGather', 'tensor');
  if (g === null) return undefined as Result<O>;
  sameDtype('allGather', [...list, t]);
  const async = options?.asyncOp ?? false;
  const views = list.map((x) => realView(x, 'allGather'));
  const v = realView(t, 'allGather');
  return withViews([...views, v], [...list, t], () =>
    finish(DN.distAllGather(g.id as number, views.map((x) => x.id), v.id, async), async)) as Result<O>;
}

/** torch.distributed.all_gather_into_tensor: output (worldSize·n elements) gets every rank's input in rank order. */
export function allGatherIntoTensor<O extends CollectiveOptions>(outputTensor: Tensor, inputTensor: Tensor, options?: O): Result<O> {
  const g = memberGroup(options, 'allGatherIntoTensor');
  const out = tensorArg(outputTensor, 'allGatherIntoTensor', 'output_tensor');
  const input = tensorArg(inputTensor, 'allGatherIntoTensor', 'input_tensor');
  if (g === null) return undefined as Result<O>;
  sameDtype('allGatherIntoTensor', [out, input]);
  const async = options?.asyncOp ?? false;
  const vo = realView(out, 'allGatherIntoTensor');
  const vi = realView(input, 'allGatherIntoTensor');
  return withViews([vo, vi], [out, input], () =>
    finish(DN.distAllGatherIntoTensor(g.id as number, vo.id, vi.id, async), async)) as Result<O>;
}

/**
 * torch.distributed.gather: on dst, gatherList[r] becomes rank r's tensor; the other ranks pass no list
 * (undefined or null).
 */
export function gather<O extends CollectiveOptions>(tensor: Tensor, gatherList?: Tensor[] | null, dst = 0, options?: O): Result<O> {
  const g = memberGroup(options, 'gather');
  const t = tensorArg(tensor, 'gather', 'tensor');
  if (g === null) return undefined as Result<O>;
  const root = groupRankOf(g, dst, 'gather', 'dst');
  const list = gatherList == null ? [] : tensorListArg(gatherList, 'gather', 'gather_list');
  if (root === g.rank() && list.length === 0) throw new TorchError('distributed.gather(): Argument ``gather_list`` must be specified on destination rank.');
  if (root !== g.rank() && list.length > 0) throw new TorchError('distributed.gather(): Argument ``gather_list`` must NOT be specified on non-destination ranks.');
  sameDtype('gather', [...list, t]);
  const async = options?.asyncOp ?? false;
  return finish(DN.distGather(g.id as number, t.id, root === g.rank() ? list.map((x) => x.id) : null, root, async), async) as Result<O>;
}

/** torch.distributed.scatter: tensor becomes src's scatterList[rank]; only src passes the list. */
export function scatter<O extends CollectiveOptions>(tensor: Tensor, scatterList?: Tensor[] | null, src = 0, options?: O): Result<O> {
  const g = memberGroup(options, 'scatter');
  const t = tensorArg(tensor, 'scatter', 'tensor');
  if (g === null) return undefined as Result<O>;
  const root = groupRankOf(g, src, 'scatter', 'src');
  const list = scatterList == null ? [] : tensorListArg(scatterList, 'scatter', 'scatter_list');
  if (root === g.rank() && list.length === 0) throw new TorchError('distributed.scatter(): Argument ``scatter_list`` must be specified on source rank.');
  if (root !== g.rank() && list.length > 0) throw new TorchError('distributed.scatter(): Argument ``scatter_list`` must NOT be specified on non-source ranks.');
  sameDtype('scatter', [...list, t]);
  const async = options?.asyncOp ?? false;
  return finish(DN.distScatter(g.id as number, t.id, root === g.rank() ? list.map((x) => x.id) : null, root, async), async) as Result<O>;
}

/** torch.distributed.reduce_scatter: output becomes the reduction over ranks of their inputList[rank]. */
export function reduceScatter<O extends ReduceOptions>(output: Tensor, inputList: Tensor[], options?: O): Result<O> {
  const g = memberGroup(options, 'reduceScatter');
  const out = tensorArg(output, 'reduceScatter', 'output');
  const list = tensorListArg(inputList, 'reduceScatter', 'input_list');
  if (g === null) return undefined as Result<O>;
  sameDtype('reduceScatter', [out, ...list]);
  const op = reduceCode(options?.op, 'reduceScatter');
  const async = options?.asyncOp ?? false;
  return finish(DN.distReduceScatter(g.id as number, out.id, list.map((x) => x.id), op, async), async) as Result<O>;
}

/** torch.distributed.reduce_scatter_tensor: output (n elements) gets chunk `rank` of the reduced input (worldSize·n). */
export function reduceScatterTensor<O extends ReduceOptions>(output: Tensor, input: Tensor, options?: O): Result<O> {
  const g = memberGroup(options, 'reduceScatterTensor');
  const out = tensorArg(output, 'reduceScatterTensor', 'output');
  const inp = tensorArg(input, 'reduceScatterTensor', 'input');
  if (g === null) return undefined as Result<O>;
  sameDtype('reduceScatterTensor', [out, inp]);
  const op = reduceCode(options?.op, 'reduceScatterTensor');
  const async = options?.asyncOp ?? false;
  return finish(DN.distReduceScatterTensor(g.id as number, out.id, inp.id, op, async), async) as Result<O>;
}

export interface AllToAllSingleOptions extends CollectiveOptions {
  /** Rows of output received from each rank (default: equal splits). */
  outputSplitSizes?: number[] | null;
  /** Rows of input sent to each rank (default: equal splits). */
  inputSplitSizes?: number[] | null;
}

/** torch.distributed.all_to_all_single: input's row blocks go to the ranks in order; output collects theirs. */
export function allToAllSingle<O extends AllToAllSingleOptions>(output: Tensor, input: Tensor, options?: O): Result<O> {
  const g = memberGroup(options, 'allToAllSingle');
  const out = tensorArg(output, 'allToAllSingle', 'output');
  const inp = tensorArg(input, 'allToAllSingle', 'input');
  if (g === null) return undefined as Result<O>;
  sameDtype('allToAllSingle', [out, inp]);
  const splits = (s: number[] | null | undefined, name: string): number[] => {
    if (s == null) return [];
    if (!Array.isArray(s) || s.some((x) => !Number.isInteger(x) || x < 0)) argError('distributed.allToAllSingle', `${name} must be an array of non-negative integers`);
    return s;
  };
  const async = options?.asyncOp ?? false;
  const vo = realView(out, 'allToAllSingle');
  const vi = realView(inp, 'allToAllSingle');
  return withViews([vo, vi], [out, inp], () => finish(DN.distAllToAllSingle(g.id as number, vo.id, vi.id,
    splits(options?.outputSplitSizes, 'outputSplitSizes'), splits(options?.inputSplitSizes, 'inputSplitSizes'), async), async)) as Result<O>;
}

/** torch.distributed.barrier: returns once every rank of the group has called it. */
export function barrier<O extends CollectiveOptions>(options?: O): Result<O> {
  const g = memberGroup(options, 'barrier');
  if (g === null) return undefined as Result<O>;
  const async = options?.asyncOp ?? false;
  return finish(DN.distBarrier(g.id as number, async), async) as Result<O>;
}

export interface P2POptions {
  group?: ProcessGroup | null;
  /** Matches a send with a recv (default 0). */
  tag?: number;
}

function p2pPeer(g: ProcessGroup, peer: unknown, op: string, name: string): number {
  const r = groupRankOf(g, peer, op, name);
  if (r === g.rank()) throw new TorchError(`distributed.${op}(): Invalid ${name === 'dst' ? 'destination' : 'source'} rank: should not be the same as the rank of the current process.`);
  return r;
}

function tagOf(options: P2POptions | undefined, op: string): number {
  const tag = options?.tag ?? 0;
  if (!Number.isInteger(tag)) argError(`distributed.${op}`, `tag must be an integer, got ${String(tag)}`);
  return tag;
}

/** torch.distributed.send: sends tensor to global rank dst (blocks until it is taken). */
export function send(tensor: Tensor, dst: number, options?: P2POptions): void {
  const g = memberGroup(options, 'send');
  const t = tensorArg(tensor, 'send', 'tensor');
  if (g === null) return;
  DN.distSend(g.id as number, t.id, p2pPeer(g, dst, 'send', 'dst'), tagOf(options, 'send'), false);
}

/** torch.distributed.isend: send without waiting; the Work completes once the tensor was taken. */
export function isend(tensor: Tensor, dst: number, options?: P2POptions): Work {
  const g = memberGroup(options, 'isend');
  const t = tensorArg(tensor, 'isend', 'tensor');
  if (g === null) return new Work(null, MADE_HERE);
  return new Work(DN.distSend(g.id as number, t.id, p2pPeer(g, dst, 'isend', 'dst'), tagOf(options, 'isend'), true) as Opaque, MADE_HERE);
}

/** torch.distributed.recv: receives into tensor from global rank src (any rank when omitted); returns the sender. */
export function recv(tensor: Tensor, src?: number | null, options?: P2POptions): number {
  const g = memberGroup(options, 'recv');
  const t = tensorArg(tensor, 'recv', 'tensor');
  if (g === null) return -1;
  const from = DN.distRecv(g.id as number, t.id, src == null ? -1 : p2pPeer(g, src, 'recv', 'src'), tagOf(options, 'recv'), false) as number;
  return g.ranks[from];
}

/** torch.distributed.irecv: receive without waiting; after `await work.wait()`, work.sourceRank() is the sender. */
export function irecv(tensor: Tensor, src?: number | null, options?: P2POptions): Work {
  const g = memberGroup(options, 'irecv');
  const t = tensorArg(tensor, 'irecv', 'tensor');
  if (g === null) return new Work(null, MADE_HERE);
  const handle = DN.distRecv(g.id as number, t.id, src == null ? -1 : p2pPeer(g, src, 'irecv', 'src'), tagOf(options, 'irecv'), true) as Opaque;
  return new GroupWork(handle, g);
}

/** A receive's work: reports the sender as a global rank. */
class GroupWork extends Work {
  private readonly group: ProcessGroup;
  constructor(handle: Opaque, group: ProcessGroup) {
    super(handle, MADE_HERE);
    this.group = group;
  }
  override sourceRank(): number {
    const r = super.sourceRank();
    return r < 0 ? r : this.group.ranks[r];
  }
}

// --------------------------------------------------------------------------------------------- helpers

// DDP's view of a group (lib/nn/parallel.ts), through the internal module: not a torch.distributed export.
internals.nativeGroup = (group, op) => {
  const g = groupOf(group as ProcessGroup | null | undefined, op);
  if (!g.member) throw new TorchError(`${op}(): this rank is not a member of the process group`);
  return g.id as number;
};
