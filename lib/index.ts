// roots-nlp: the public API.
export { RootsError, TorchError } from './errors.js';
export type { RootsErrorCode } from './errors.js';
export type { Batch } from './batch.js';
export { IGNORE_INDEX } from './batch.js';
export { info, setNumThreads, formatInfo, cudaMemory, resetCudaPeakMemory, synchronize } from './info.js';
export type { RootsInfo, CudaMemory } from './info.js';
export {
  BertPreTrainedModel, BertModel, BertForTokenClassification, BertForSequenceClassification, BertForMaskedLM,
  BertForQuestionAnswering, BertForIntentAndSlots, freezePatterns,
} from './models/bert.js';
export type {
  Head, Device, Precision, FromPretrainedOptions, LoadReport, ModelOutput, TrainStepOptions, StepResult, FreezeStrategy,
} from './models/bert.js';
export { BERT_DEFAULTS, normalizeConfig, readConfig, labelsOf, withLabels } from './models/config.js';
export type { BertConfig, BertArchitecture } from './models/config.js';
export { readCheckpointIndex, readSafetensorsIndex } from './weights/index.js';
export type { TensorIndex, TensorRecord, DType } from './weights/index.js';
export * from './metrics/index.js';
export { Tokenizer, parseVocab, bertTokenizerJson } from './tokenizer/index.js';
export type { Encoding, EncodeOptions, DecodeOptions, TokenizerLoadOptions, TruncationStrategy, PaddingStrategy, SpecialTokens } from './tokenizer/index.js';
export * from './data/index.js';
export * from './trainer/index.js';
export * from './tasks/index.js';
export * from './pipelines/index.js';
