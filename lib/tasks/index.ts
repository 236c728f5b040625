/** Training tasks: the task-specific parts of training behind one interface. */
import { RootsError, describe } from '../errors.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import { NerTask } from './ner.js';
import { TextClassificationTask, isMultiLabel } from './text-classification.js';
import { IntentSlotsTask } from './intent-slots.js';
import type { Task } from './task.js';
import { MlmTask } from './mlm.js';
import { QuestionAnsweringTask } from './question-answering.js';
import { RelationTask, typedMarkersOf } from './relation.js';

export type { Task, TaskContext, FeatureOutputs, Evaluation, BatchSource } from './task.js';
export { isBatchSource } from './task.js';
export { MlmTask, evaluateMlm, mlmMetrics, MLM_METRICS } from './mlm.js';
export type { MlmTotals } from './mlm.js';
export { forwardFeatures } from './forward.js';
export { PromptClassificationTask, promptClassificationTask, PROMPT_CLASSIFICATION_METRICS } from './prompt-classification.js';
export type { PromptFeature, PromptClassificationTaskOptions } from './prompt-classification.js';
export type { ForwardOptions } from './forward.js';
export { NerTask, nerTask, evaluateNer, tagsFromOutputs, modelTagScheme, convertSentences } from './ner.js';
export type { NerTaskOptions, NerDetails, EvaluateNerOptions } from './ner.js';
export {
  TextClassificationTask, textClassificationTask, evaluateTextClassification, inverseFrequencyWeights, parseClassWeights,
  isMultiLabel, softmax, sigmoid, formatConfusion, TEXT_CLASSIFICATION_METRICS, MULTI_LABEL_METRICS,
} from './text-classification.js';
export type { TextClassificationTaskOptions, TextClassificationDetails, EvaluateTextClassificationOptions } from './text-classification.js';
export {
  IntentSlotsTask, intentSlotsTask, evaluateIntentSlots, intentSlotFeatures, decodeIntentSlots, INTENT_SLOTS_METRICS,
} from './intent-slots.js';
export type { IntentSlotFeature, IntentSlotsTaskOptions, IntentSlotsDetails, EvaluateIntentSlotsOptions } from './intent-slots.js';
export { QuestionAnsweringTask, questionAnsweringTask, evaluateQuestionAnswering, decodeAnswers, QUESTION_ANSWERING_METRICS } from './question-answering.js';
export type { QuestionAnsweringTaskOptions, QaCandidate, QuestionAnsweringDetails, EvaluateQuestionAnsweringOptions } from './question-answering.js';
export { RelationTask, relationTask, evaluateRelation, withEntityMarkers, relationIds, RELATION_METRICS } from './relation.js';
export type { RelationTaskOptions, RelationFeature, RelationDetails, EvaluateRelationOptions } from './relation.js';
export { ENTITY_MARKERS, insertMarkers, encodeMarked, resizeTokenEmbeddings, withMarkerTokens } from './relation-markers.js';

/** Task names the Trainer and the CLI accept. */
export type TaskName = 'ner' | 'token-classification' | 'text-classification' | 'intent-slots' | 'mlm' | 'question-answering' | 'relation-classification';

/** The head each named task trains. */
const TASK_HEADS: Record<string, string> = { 'text-classification': 'sequence', 'intent-slots': 'intent-slots', mlm: 'mlm', 'question-answering': 'qa', 'relation-classification': 'relation' };

/**
 * A task by name (or the task itself). With the model, the task is fitted to it
 * (`'text-classification'` is multi-label when the model's problem_type is) and the head is checked.
 */
export function resolveTask<T extends Task<any, any>>(task: TaskName | T, model?: Pick<BertPreTrainedModel, 'head' | 'config'>): Task<any, any> {
  if (typeof task === 'object' && task !== null) return task;
  const head = TASK_HEADS[task as string];
  if (model && head && model.head !== head) {
    const needs = head === 'sequence' ? 'BertForSequenceClassification' : head === 'mlm' ? 'BertForMaskedLM' : head === 'qa' ? 'BertForQuestionAnswering' : head === 'relation' ? 'BertForRelationClassification' : 'BertForIntentAndSlots';
    throw new RootsError('ERR_INVALID_ARG', `The ${task} task needs a ${needs} model, not a ${model.head} head`);
  }
  if (task === 'ner' || task === 'token-classification') return new NerTask();
  if (task === 'text-classification') return new TextClassificationTask({ multiLabel: model ? isMultiLabel(model) : false });
  if (task === 'intent-slots') return new IntentSlotsTask();
  if (task === 'mlm') return new MlmTask();
  if (task === 'question-answering') return new QuestionAnsweringTask();
  if (task === 'relation-classification') return new RelationTask({ typedMarkers: model ? typedMarkersOf(model) : false });
  if ((task as string) === 'prompt-classification') throw new RootsError('ERR_INVALID_ARG', "The prompt-classification task needs a template and a verbalizer: pass new PromptClassificationTask({ template, verbalizer }) as the task");
  throw new RootsError('ERR_INVALID_ARG', `Unknown task ${describe(task)}: expected 'ner' (or 'token-classification'), 'text-classification', 'intent-slots', 'mlm', 'question-answering', 'relation-classification' or a Task object`);
}
