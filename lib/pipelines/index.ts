/**
 * `pipeline(task, model, options)`: ready-to-use inference over raw text, Hugging Face style.
 *
 * ```ts
 * const ner = await pipeline('ner', 'out/model', { aggregation: 'simple' });
 * console.log(await ner('Angela Merkel visited Paris.'));
 * ner.dispose();
 * ```
 */
import { RootsError, describe } from '../errors.js';
import { nerPipeline, type ModelSource, type NerPipelineOptions, type TokenClassificationPipeline } from './ner.js';
import { textClassificationPipeline, type TextClassificationPipeline, type TextClassificationPipelineOptions } from './text-classification.js';
import { intentSlotsPipeline, type IntentSlotsPipeline, type IntentSlotsPipelineOptions } from './intent-slots.js';
import { fillMaskPipeline, type FillMaskPipeline, type FillMaskPipelineOptions } from './fill-mask.js';
import { zeroShotPipeline, type ZeroShotClassificationPipeline, type ZeroShotPipelineOptions } from './zero-shot.js';
import { questionAnsweringPipeline, type QuestionAnsweringPipeline, type QuestionAnsweringPipelineOptions } from './question-answering.js';
import { relationPipeline, type RelationPipeline, type RelationPipelineOptions } from './relation.js';

export { nerPipeline } from './ner.js';
export type { NerPipelineOptions, NerCallOptions, TokenClassificationPipeline, ModelSource } from './ner.js';
export {
  aggregateEntities, groupEntities, softmaxRows, wordPieceTokensToString, getTag, AGGREGATION_STRATEGIES, parseAggregation,
} from './aggregation.js';
export type { AggregationStrategy, PreEntity, TokenEntity, EntityGroup, NerEntity, AggregateOptions } from './aggregation.js';

export { textClassificationPipeline } from './text-classification.js';
export type {
  TextClassificationPipeline, TextClassificationPipelineOptions, TextClassificationCallOptions, TextClassificationInput, LabelScore,
} from './text-classification.js';
export { intentSlotsPipeline } from './intent-slots.js';
export type { IntentSlotsPipeline, IntentSlotsPipelineOptions, IntentSlotsResult, Slot } from './intent-slots.js';
export type { PipelineSource } from './source.js';
export { fillMaskPipeline } from './fill-mask.js';
export type { FillMaskPipeline, FillMaskPipelineOptions, FillMaskCallOptions, FillMaskResult, FillMaskOutput } from './fill-mask.js';

export { zeroShotPipeline } from './zero-shot.js';
export { questionAnsweringPipeline, decodeSpans } from './question-answering.js';
export type { QuestionAnsweringPipeline, QuestionAnsweringPipelineOptions, QuestionAnsweringCallOptions, QuestionAnsweringInput, QuestionAnsweringResult, QuestionAnsweringOutput } from './question-answering.js';
export { relationPipeline, relationExample } from './relation.js';
export type { RelationPipeline, RelationPipelineOptions, RelationCallOptions, RelationInput, RelationResult } from './relation.js';
export type { ZeroShotClassificationPipeline, ZeroShotPipelineOptions, ZeroShotCallOptions, ZeroShotResult } from './zero-shot.js';

export type PipelineTask = 'ner' | 'token-classification' | 'text-classification' | 'sentiment-analysis' | 'intent-slots' | 'fill-mask' | 'zero-shot-classification' | 'question-answering' | 'relation-classification';

export function pipeline(task: 'ner' | 'token-classification', model: ModelSource, options?: NerPipelineOptions): Promise<TokenClassificationPipeline>;
export function pipeline(task: 'text-classification' | 'sentiment-analysis', model: ModelSource, options?: TextClassificationPipelineOptions): Promise<TextClassificationPipeline>;
export function pipeline(task: 'intent-slots', model: ModelSource, options?: IntentSlotsPipelineOptions): Promise<IntentSlotsPipeline>;
export function pipeline(task: 'fill-mask', model: ModelSource, options?: FillMaskPipelineOptions): Promise<FillMaskPipeline>;
export function pipeline(task: 'zero-shot-classification', model: ModelSource, options?: ZeroShotPipelineOptions): Promise<ZeroShotClassificationPipeline>;
export function pipeline(task: 'question-answering', model: ModelSource, options?: QuestionAnsweringPipelineOptions): Promise<QuestionAnsweringPipeline>;
export function pipeline(task: 'relation-classification', model: ModelSource, options?: RelationPipelineOptions): Promise<RelationPipeline>;
export async function pipeline(
  task: PipelineTask, model: ModelSource, options: QuestionAnsweringPipelineOptions | NerPipelineOptions | TextClassificationPipelineOptions | IntentSlotsPipelineOptions | FillMaskPipelineOptions | ZeroShotPipelineOptions | RelationPipelineOptions = {},
): Promise<QuestionAnsweringPipeline | TokenClassificationPipeline | TextClassificationPipeline | IntentSlotsPipeline | FillMaskPipeline | ZeroShotClassificationPipeline | RelationPipeline> {
  if (task === 'ner' || task === 'token-classification') return nerPipeline(model, options as NerPipelineOptions);
  if (task === 'text-classification' || task === 'sentiment-analysis') return textClassificationPipeline(model, options as TextClassificationPipelineOptions);
  if (task === 'intent-slots') return intentSlotsPipeline(model, options as IntentSlotsPipelineOptions);
  if (task === 'fill-mask') return fillMaskPipeline(model, options as FillMaskPipelineOptions);
  if (task === 'zero-shot-classification') return zeroShotPipeline(model, options as ZeroShotPipelineOptions);
  if (task === 'question-answering') return questionAnsweringPipeline(model, options as QuestionAnsweringPipelineOptions);
  if (task === 'relation-classification') return relationPipeline(model, options as RelationPipelineOptions);
  throw new RootsError('ERR_INVALID_ARG', `Unknown pipeline task ${describe(task)}: expected 'ner' (or 'token-classification'), 'text-classification' (or 'sentiment-analysis'), 'intent-slots', 'fill-mask', 'zero-shot-classification' or 'question-answering'`);
}
