// Ready architectures: the built-in image models (an MLP and a CNN, described by JSON), the text
// classifiers of `torchkd text`, and their weights on disk.
export { TextTransformer, FastText, type TextTransformerOptions, type FastTextOptions } from './text';
export { Ensemble } from './ensemble';
export {
  buildModel, resolveArch, readArch, loadWeights, saveModel,
  type ArchConfig, type MlpArch, type CnnArch, type DataShape,
} from './arch';
/** Hugging Face transformers: models, Auto classes, tokenizers (also exported as `hf` from 'torchkd'). */
export * as hf from './hf';
