// The `data` namespace: datasets, the DataLoader, IDX (MNIST) and text-classification readers.
export type { Dataset, RandomSplitOptions, Indices } from './dataset';
export { TensorDataset, Subset, randomSplit, range } from './dataset';
export {
  SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler, BatchSampler,
  type Sampler, type Sized, type RandomSamplerOptions,
} from './sampler';
export { defaultCollate, type Collated } from './collate';
export { DataLoader, type DataLoaderOptions } from './loader';
export { Generator } from './random';
export {
  parseIdx, readIdx, encodeIdx, writeIdx, fashionMnist, fashionMnistDataset, FASHION_MNIST_ROOT, FASHION_MNIST_CLASSES,
  type IdxOptions, type FashionMnistOptions,
} from './idx';
export {
  parseCsv, parseTextClassification, readTextClassification, Tokenizer, Vocab, LabelVocab,
  type TextExample, type ReadTextOptions, type TokenizerOptions, type VocabOptions, type EncodeOptions,
  type VocabJSON, type LabelVocabJSON,
} from './text';
export {
  randomCrop, randomHorizontalFlip, mixup, compose, mixupCrossEntropy, sampleBeta,
  type AugmentBatch, type Augmentation, type RandomCropOptions,
} from './augment';
export { DistributedSampler, type DistributedSamplerOptions } from './distributed';
