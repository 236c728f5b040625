/**
 * Evaluation metrics: entity-level scores for sequence labelling (seqeval / conlleval compatible),
 * single- and multi-label classification metrics (scikit-learn compatible), and the conlleval
 * file format and report.
 */
export {
  TAGGING_SCHEMES, parseScheme, checkTag, getEntities, extractEntities, entityScores, entityF1Score,
  tokenAccuracy, classificationReport, reportFromScores,
} from './seqeval.js';
export type {
  TaggingScheme, EntitySpan, CorpusEntitySpan, EntityOptions, EntityTypeScores, EntityScores, EntityReportOptions, EntityReport,
} from './seqeval.js';
export {
  accuracyScore, classificationScores, precisionRecallF1, f1Score, confusionMatrix, matthewsCorrcoef,
  flatClassificationReport, multiLabelScores,
} from './classification.js';
export { formatFixed } from './report-text.js';
export type {
  ClassLabel, AverageMode, MetricScores, LabelScores, AveragedScores, ClassificationScores, LabelOptions, ConfusionMatrix, ReportRow,
  FlatClassificationReport, FlatReportOptions, MultiLabelScores,
} from './classification.js';
// parseConlleval/readConlleval read gold+predicted files; the training-data reader is data's readConll.
export { parseConll as parseConlleval, readConll as readConlleval, conllevalSummary, scoreJson, scoreConll, runScore } from './conlleval.js';
export type { ConllData, ParseConllOptions, ScoreOptions, ScoreJson } from './conlleval.js';
export { semevalScore, semevalLines } from './semeval.js';
export type { SemEvalResult, SemEvalEvaluation, SemEvalRelationScore } from './semeval.js';
