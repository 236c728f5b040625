// roots-nlp: the public API.
export { RootsError, TorchError } from './errors.js';
export type { RootsErrorCode } from './errors.js';
export type { Batch } from './batch.js';
export { IGNORE_INDEX } from './batch.js';
export { info, setNumThreads, formatInfo, cudaMemory, resetCudaPeakMemory, synchronize } from './info.js';
export type { RootsInfo, CudaMemory } from './info.js';
export {
  BertPreTrainedModel, BertModel, BertForTokenClassification, BertForSequenceClassification, BertForMaskedLM,
  BertForQuestionAnswering, BertForIntentAndSlots, BertForRelationClassification, freezePatterns,
} from './models/bert.js';
export type {
  Head, Device, Precision, FromPretrainedOptions, LoadReport, ModelOutput, TrainStepOptions, StepResult, FreezeStrategy,
} from './models/bert.js';
export type { ForwardOptions, AdapterInfo } from './models/bert.js';
export * from './peft/index.js';
export { BERT_DEFAULTS, normalizeConfig, readConfig, labelsOf, withLabels } from './models/config.js';
export type { BertConfig, BertArchitecture } from './models/config.js';
export { readCheckpointIndex, readSafetensorsIndex } from './weights/index.js';
export type { TensorIndex, TensorRecord, DType } from './weights/index.js';
export * from './metrics/index.js';
export { Tokenizer, parseVocab, bertTokenizerJson } from './tokenizer/index.js';
export type { Encoding, EncodeOptions, DecodeOptions, TokenizerLoadOptions, TruncationStrategy, PaddingStrategy, SpecialTokens } from './tokenizer/index.js';
export { WordPieceTrainer, trainWordPiece, saveVocabulary, wordPieceTokenizer, DEFAULT_SPECIAL_TOKENS } from './tokenizer/wordpiece-trainer.js';
export type { WordPieceTrainerOptions, TrainedVocabulary } from './tokenizer/wordpiece-trainer.js';
export * from './data/index.js';
export { resolveCorpusFiles, readCorpusLines, readFileLines, DEFAULT_MAX_LINE_BYTES } from './data/corpus.js';
export { readSquad, parseSquadJson, parseSquadJsonl, splitArticles } from './data/squad.js';
export type { QaExample, QaAnswer, SquadReadOptions, SquadArticle } from './data/squad.js';
export { qaFeatures, answerTokens, QA_DEFAULTS } from './data/squad-features.js';
export type { QaFeature, QaFeatureOptions, QaFeatures } from './data/squad-features.js';
export { normalizeAnswer, squadExactMatch, squadF1, squadScores } from './metrics/squad.js';
export type { SquadGold, SquadScores } from './metrics/squad.js';
export type { CorpusFile, CorpusLine, CorpusReadOptions, DocumentMode } from './data/corpus.js';
export { TokenCache, openTokenCache, cacheKey } from './data/corpus-cache.js';
export type { TokenCacheMeta, BuildCacheOptions, TokenDtype } from './data/corpus-cache.js';
export { MlmBatches, Masker, ArrayTokenSource, mlmVocab, batchRng, corpusBatches } from './data/mlm.js';
export type { CorpusBatchesOptions, MlmBatch, MlmBatchesOptions, MlmBatchesState, MlmVocab, MaskingOptions, TokenSource } from './data/mlm.js';
export * from './trainer/index.js';
export * from './tasks/index.js';
export * from './prompt/index.js';
export {
  ReplayBuffer, mixReplay, expandLabels, expandedLabels, continualMetrics, accumulateFisher, consolidate, loadContinualState,
  saveContinualState, CONTINUAL_FILE,
} from './continual/index.js';
export type { ContinualOptions, ContinualMetrics, ContinualFileInfo } from './continual/index.js';
export { ProcessGroup, distributedEnv, launchWorkers, ShardedLoader, DEFAULT_BUCKET_BYTES } from './distributed/index.js';
export type { DistributedEnv, ProcessGroupOptions, LaunchOptions } from './distributed/index.js';
export * from './pipelines/index.js';
export { resolveModel, resolveModelSource, hubCacheDir, parseHubId } from './hub/index.js';
export type { HubOptions, HubId, ModelFiles, ResolvedModel } from './hub/index.js';
export { createServer, BatchedPipeline, ServeError, registerServedTask, servedTasks } from './serve/index.js';
export type { ServeOptions, BatchedPipelineOptions, BatchInfo, RunOptions, ServedTask, ServedPipeline } from './serve/index.js';
