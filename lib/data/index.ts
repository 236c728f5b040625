/** The data pipeline: readers, tag schemes, label vocabularies, label alignment and the loader. */
export {
  readConll, parseConll, readTaggedJsonl, readTextJsonl, readTrec, readIntentSlots, readTextFile, decodeText, TREC_NUMERIC_LABELS,
} from './readers.js';
export type {
  FileEncoding, ReadOptions, TaggedSentence, TextExample, IntentSlotExample, ConllOptions, TaggedJsonlOptions,
  TextJsonlOptions, TrecOptions, IntentSlotOptions,
} from './readers.js';
export { readDelimited, parseDelimited } from './delimited.js';
export type { DelimitedOptions } from './delimited.js';
export { tagsToSpans, spansToTags, convertTags, detectScheme, parseTag, chunkTagProblem, TAG_SCHEMES } from './tagging.js';
export type { TagScheme, Span } from './tagging.js';
export { LabelVocab } from './labels.js';
export type { LabelConfig } from './labels.js';
export {
  alignLabelsToTokens, alignExample, tokenClassificationFeatures, planWindows, mergeWindowLogits, argmaxRows, groupWindows,
} from './align.js';
export type { AlignOptions, TokenFeature, WindowInfo, MergeOptions } from './align.js';
export { Rng } from './rng.js';
export type { RngState } from './rng.js';
export { textClassificationFeatures } from './features.js';
export type { Feature, TextFeatureOptions, TextFeature } from './features.js';
export { collate } from './collate.js';
export type { CollateOptions } from './collate.js';
export { DataLoader } from './loader.js';
export type { LoaderBatch, DataLoaderOptions, LoaderState } from './loader.js';
export { detectFormat, checkFormat, readTextData, readTaggedData, readIntentSlotData, DATA_FORMATS } from './formats.js';
export type { DataFormat, DataKind, TextDataOptions } from './formats.js';
export { readRelations, parseSemEval, parseRelationJsonl, parseMarkedText, checkSpans } from './semeval.js';
export type { RelationExample, RelationSpan, RelationFormat } from './semeval.js';
