/**
 * `--task relation-classification`: its row of the task table (tasks.ts), its `roots eval` scorer
 * and its `roots predict` pipeline. Flags:
 *
 *   --typed-markers                 [E1:TYPE] … [/E1:TYPE] markers (JSONL entities with a type)
 *   --relation-pooling <p>          entity-start (default; the two [E1]/[E2] states) or cls
 *
 * Data: the SemEval-2010 Task 8 format (TRAIN_FILE.TXT, TEST_FILE_FULL.TXT), or JSONL (`.jsonl`, or
 * --format jsonl) of {id?, text, e1, e2, relation?} (lib/data/semeval.ts). Training adds the marker
 * tokens to the tokenizer and the word embeddings (saved with the model). `roots eval` prints the
 * official scorer's output; `--predictions FILE` writes `id<TAB>relation` lines for the Perl scorer.
 * `roots predict --text` takes marked texts (`<e1>…</e1>` or `[E1]…[/E1]`).
 */
import type { RelationExample } from '../data/semeval.js';
import { readRelations } from '../data/semeval.js';
import { RootsError } from '../errors.js';
import { BertForRelationClassification, type BertPreTrainedModel } from '../models/bert.js';
import { semevalLines } from '../metrics/semeval.js';
import { relationPipeline, type RelationResult } from '../pipelines/relation.js';
import type { PipelineSource } from '../pipelines/source.js';
import { RELATION_METRICS, RelationTask, evaluateRelation, markerTypes, withEntityMarkers } from '../tasks/relation.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { parsers, requireFile, table, type CommandOptionSpec } from './common.js';
import type { DataFlags } from './data.js';
import type { TaskRow } from './tasks.js';

/** The flags of relation classification (`roots train`). */
export interface RelationFlags {
  typedMarkers?: boolean;
  relationPooling?: 'entity-start' | 'cls';
}

export const RELATION_SPECS: readonly CommandOptionSpec[] = [
  { key: 'typedMarkers', flags: '--typed-markers', help: 'relation-classification: typed entity markers [E1:TYPE] … [/E1:TYPE] (JSONL entities with a "type")', parse: parsers.boolean },
  { key: 'relationPooling', flags: '--relation-pooling <p>', help: 'relation-classification: classify from the two entity-start markers (entity-start, default) or from [CLS] (cls)', parse: parsers.choice(['entity-start', 'cls'] as const) },
];

/** Relation examples from a SemEval-2010 Task 8 file or JSONL. */
export async function readRelationSplit(flag: string, path: string, o: DataFlags): Promise<RelationExample[]> {
  requireFile(flag, path);
  if (o.format !== undefined && o.format !== 'jsonl') throw new RootsError('ERR_INVALID_ARG', `--format ${o.format} is not a relation format: the SemEval-2010 Task 8 format (the default) or --format jsonl`);
  const data = await readRelations(path, { format: o.format === 'jsonl' ? 'jsonl' : undefined });
  if (data.length === 0) throw new RootsError('ERR_PARSE', `${flag} ${path}: no examples found`);
  return data;
}

export const relationClassification: TaskRow<RelationExample> = {
  name: 'relation-classification', model: BertForRelationClassification, architecture: 'BertForRelationClassification',
  data: 'a SemEval-2010 Task 8 file, or JSONL of {id?, text, e1: [start, end], e2: [start, end], relation}',
  flags: ['typedMarkers', 'relationPooling'], maxLength: 128, metricNames: RELATION_METRICS,
  read: readRelationSplit,
  plan(data, o) {
    const task = new RelationTask({ typedMarkers: o.typedMarkers });
    const examples = [...data.train, ...(data.dev ?? []), ...(data.test ?? [])];
    const labels = task.labelsOf(examples);
    if (labels.length === 0) throw new RootsError('ERR_PARSE', `--train ${o.train}: no example has a relation (SemEval: the line after the sentence; JSONL: "relation"); training needs labelled examples`);
    if (labels.length < 2) throw new RootsError('ERR_PARSE', `--train ${o.train}: found ${labels.length} relation${labels.length === 1 ? '' : 's'} (${labels.join(', ')}); classification needs at least two`);
    const types = markerTypes(examples, task.typedMarkers);
    return {
      data, labels, task,
      metrics: { kind: 'relation-classification', names: RELATION_METRICS },
      modelOptions: () => (o.relationPooling ? { config: { relation_pooling: o.relationPooling } } : {}),
      summary: (model) => ({ relationPooling: model.config.relation_pooling, markers: task.typedMarkers ? 'typed' : 'plain' }),
      headline: ['macro_f1', 'accuracy'],
      prepare: (model, tokenizer) => withEntityMarkers(model, tokenizer, { types, seed: o.seed }),
    };
  },
};

/** `roots eval` of a relation model: the official scorer's output; the predictions as `id<TAB>relation` lines. */
export async function evalRelation(x: { model: BertPreTrainedModel; tokenizer: Tokenizer; examples: unknown[]; batchSize: number; maxLength: number; o: { model?: string; data: string } }):
  Promise<{ result: Record<string, unknown>; text: string; predictions: string }> {
  const examples = x.examples as RelationExample[];
  const ev = await evaluateRelation(x.model, x.tokenizer, examples, { batchSize: x.batchSize, maxLength: x.maxLength });
  const d = ev.details;
  const predictions = semevalLines(new Map(d.ids.map((id, i) => [id, d.predictions[i]])));
  const result: Record<string, unknown> = { model: x.o.model, data: x.o.data, task: 'relation-classification', examples: examples.length, metrics: ev.metrics };
  if (!d.semeval) result.predicted = d.ids.map((id, i) => ({ id, relation: d.predictions[i], score: d.scores[i] }));  // unlabelled data
  if (d.semeval) {
    result.official = d.semeval.official;
    result.relations = d.semeval.evaluations[2].relations;
    result.report = d.semeval.report;
  }
  const metrics = Object.entries(ev.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
  const text = d.semeval ? `${d.semeval.report}\n${metrics} (${examples.length} examples, ${x.o.data})\n` : `${examples.length} unlabelled examples predicted (${x.o.data}); --predictions FILE writes them as id<TAB>relation lines, --json lists them\n`;
  return { result, text, predictions };
}

/** `roots predict` of a relation model: each input is a marked text. */
export const relationPredictor = {
  flags: ['topK'] as const,
  async run({ dir, inputs, load, o, emit }: {
    dir: PipelineSource; inputs: { text: string }[]; load: Parameters<typeof relationPipeline>[1]; o: { topK?: number };
    emit(record: Record<string, unknown>, text: string): void;
  }): Promise<void> {
    const re = await relationPipeline(dir, { ...load, topK: o.topK });
    try {
      const CHUNK = 256;
      for (let i = 0; i < inputs.length; i += CHUNK) {
        const part = inputs.slice(i, i + CHUNK).map((x) => x.text);
        const results = await re(part);
        part.forEach((text, k) => {
          const list = ([] as RelationResult[]).concat(results[k]);
          emit({ text, relations: list }, `${text}\n${table(list.map((r) => ['  ' + r.relation, r.score.toFixed(4)]))}`);
        });
      }
    } finally {
      re.dispose();
    }
  },
};
