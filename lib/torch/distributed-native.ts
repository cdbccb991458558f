// The native side of torch.distributed (native/distributed.cc), typed. Internal: torch.distributed and DDP
// call it; it is not part of the package's exports (the addon object must not reach users).
import { N as addon, type Handle } from './native';

export type Opaque = { readonly __opaque: unique symbol };

export interface DistNative {
  distAvailable(): { gloo: boolean; nccl: boolean };
  distTcpStore(host: string, port: number, worldSize: number | null, isMaster: boolean, timeout: number,
    waitForWorkers: boolean, multiTenant: boolean, useLibuv: boolean): Opaque;
  distFileStore(path: string, worldSize: number): Opaque;
  distHashStore(): Opaque;
  distPrefixStore(prefix: string, store: Opaque): Opaque;
  distStoreSet(store: Opaque, key: string, value: string | Uint8Array): void;
  distStoreGet(store: Opaque, key: string): Buffer;
  distStoreAdd(store: Opaque, key: string, amount: number): number;
  distStoreCompareSet(store: Opaque, key: string, expected: string | Uint8Array, desired: string | Uint8Array): Buffer;
  distStoreWait(store: Opaque, keys: string[], timeout: number | null): void;
  distStoreCheck(store: Opaque, keys: string[]): boolean;
  distStoreDeleteKey(store: Opaque, key: string): boolean;
  distStoreNumKeys(store: Opaque): number;
  distStoreSetTimeout(store: Opaque, timeout: number): void;
  distStoreTimeout(store: Opaque): number;
  distStorePort(store: Opaque): number;
  distNewGroup(backend: string, store: Opaque, backendStore: Opaque, rank: number, size: number, timeout: number,
    name: string, desc: string, globalRanks: number[], checkStore: Opaque | null): number;
  distSetSequenceNumber(group: number): void;
  distDestroyGroup(group: number): void;
  distAllReduce(group: number, t: Handle, op: number, async: boolean): Opaque | undefined;
  distBroadcast(group: number, t: Handle, src: number, async: boolean): Opaque | undefined;
  distReduce(group: number, t: Handle, dst: number, op: number, async: boolean): Opaque | undefined;
  distAllGather(group: number, outputs: Handle[], input: Handle, async: boolean): Opaque | undefined;
  distAllGatherIntoTensor(group: number, output: Handle, input: Handle, async: boolean): Opaque | undefined;
  distGather(group: number, input: Handle, outputs: Handle[] | null, dst: number, async: boolean): Opaque | undefined;
  distScatter(group: number, output: Handle, inputs: Handle[] | null, src: number, async: boolean): Opaque | undefined;
  distReduceScatter(group: number, output: Handle, inputs: Handle[], op: number, async: boolean): Opaque | undefined;
  distReduceScatterTensor(group: number, output: Handle, input: Handle, op: number, async: boolean): Opaque | undefined;
  distAllToAllSingle(group: number, output: Handle, input: Handle, outSplits: number[], inSplits: number[],
    async: boolean): Opaque | undefined;
  distBarrier(group: number, async: boolean): Opaque | undefined;
  distSend(group: number, t: Handle, dst: number, tag: number, async: boolean): Opaque | undefined;
  distRecv(group: number, t: Handle, src: number, tag: number, async: boolean): number | Opaque;
  distWorkWait(work: Opaque): Promise<number>;
  distWorkWaitSync(work: Opaque): number;
  distWorkIsCompleted(work: Opaque): boolean;
  distDdpReducer(group: number, params: Handle[], bucketSizeLimits: number[], bucketBytesCap: number,
    findUnusedParameters: boolean, gradientAsBucketView: boolean, firstBucketBytesCap: number, names: string[]): Opaque;
  distDdpPrepareForForward(reducer: Opaque): void;
  distDdpRebuildBuckets(reducer: Opaque): boolean;
  distDdpPrepareForBackward(reducer: Opaque, outputs: Handle[]): void;
  distDdpFree(reducer: Opaque): void;
  distVerifyParams(group: number, params: Handle[]): void;
  distBroadcastCoalesced(group: number, tensors: Handle[], bufferSize: number, src: number): void;
}

/** The addon, seen through its distributed functions. */
export const DN = addon as unknown as DistNative;

/** What distributed.ts lends to DDP without exporting it: a ProcessGroup's native id (the default group when omitted). */
export const internals: { nativeGroup: (group: unknown, op: string) => number } = {
  nativeGroup: () => { throw new Error('torch.distributed is not loaded'); },
};
