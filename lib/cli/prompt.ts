/**
 * `roots train --task prompt-classification`: prompt-based fine-tuning (LM-BFF) of a masked-LM on
 * labelled texts, its row of the task table (tasks.ts). Flags:
 *
 *   --template "{text} It was [MASK] ."   the cloze template ({text}, {text_pair}, one [MASK])
 *   --verbalizer labels.json              {"label": "word" | ["word", ...]} for every label
 *   --shots K [--seed S]                  train on K examples per class drawn from --train, and,
 *                                         without --dev, select on a dev set of another K per class
 *   --demonstrations                      append one training example per label to each input
 *
 * Soft prompts (P-tuning): each [P] in the template is a trainable embedding; the model gets
 * config.soft_prompt_tokens and trains the soft prompt alone (every other parameter frozen) unless
 * --freeze says otherwise (--freeze none trains everything).
 *
 * The trained folder is a BertForMaskedLM whose config.json keeps the template and verbalizer
 * (prompt_template, prompt_verbalizer): pipeline('zero-shot-classification', dir) uses them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextExample } from '../data/readers.js';
import { RootsError } from '../errors.js';
import { BertForMaskedLM, type FromPretrainedOptions } from '../models/bert.js';
import { sampleFewShot } from '../prompt/sampler.js';
import { PromptTemplate } from '../prompt/template.js';
import { Verbalizer } from '../prompt/verbalizer.js';
import { PROMPT_CLASSIFICATION_METRICS, PromptClassificationTask, SOFT_PROMPT_ONLY, softPromptConfig } from '../tasks/prompt-classification.js';
import { readTexts } from './data.js';
import type { TaskRow } from './tasks.js';

/** Architectures whose checkpoints hold a masked-LM head. */
const MLM_ARCHITECTURES = ['BertForMaskedLM', 'BertForPreTraining'];

/** BertForMaskedLM, with only the soft prompt trainable when the config has one (the Trainer's --freeze overrides). */
const MaskedLmWithSoftPrompt = {
  head: BertForMaskedLM.head,
  async fromPretrained(dir: string, options?: FromPretrainedOptions) {
    const model = await BertForMaskedLM.fromPretrained(dir, options);
    if (model.config.soft_prompt_tokens) model.freeze(SOFT_PROMPT_ONLY);
    return model;
  },
};

export const promptClassification: TaskRow<TextExample> = {
  name: 'prompt-classification', model: MaskedLmWithSoftPrompt, architecture: 'BertForMaskedLM',
  data: 'a TSV, CSV, JSONL or TREC file of labelled texts',
  flags: ['textColumn', 'textPairColumn', 'labelColumn', 'trecLabels', 'template', 'verbalizer', 'shots', 'demonstrations'], maxLength: 128,
  metricNames: PROMPT_CLASSIFICATION_METRICS,
  read: readTexts,
  plan(data, o, io) {
    if (!o.template) throw new RootsError('ERR_INVALID_ARG', '--task prompt-classification needs --template, e.g. --template "{text} It was [MASK] ."');
    if (!o.verbalizer) throw new RootsError('ERR_INVALID_ARG', '--task prompt-classification needs --verbalizer, a JSON file mapping each label to its word(s), e.g. {"positive": "great", "negative": "terrible"}');
    const configPath = o.model ? join(o.model, 'config.json') : null;
    if (configPath && existsSync(configPath)) {
      const arch = (JSON.parse(readFileSync(configPath, 'utf8')) as { architectures?: string[] }).architectures?.[0];
      if (arch && !MLM_ARCHITECTURES.includes(arch)) {
        throw new RootsError('ERR_INVALID_ARG', `--model ${o.model} holds a ${arch}, which has no masked-LM head; prompt-based fine-tuning needs a masked-language model (BertForMaskedLM: roots pretrain's output, or a pretrained BERT)`);
      }
    }
    const template = PromptTemplate.parse(o.template);
    const verbalizer = Verbalizer.readFile(o.verbalizer);
    let { train, dev } = data;
    if (o.shots !== undefined) {
      const seed = o.seed ?? 42;
      const split = sampleFewShot(train, { shots: o.shots, seed, dev: dev === null, source: `--train ${o.train}` });
      train = split.train;
      dev = dev ?? split.dev;
      io.err(`Few-shot: ${o.shots} examples per class (${split.classes.length} classes, seed ${seed}) from --train${data.dev === null ? ', and a dev set of as many more' : ''}\n`);
    }
    const task = new PromptClassificationTask({ template, verbalizer, demonstrations: o.demonstrations ? { pool: train, seed: o.seed ?? 42 } : undefined });
    const labels = task.labelsOf([...train, ...(dev ?? []), ...(data.test ?? [])]);
    return {
      data: { train, dev, test: data.test }, labels, task,
      metrics: { kind: 'prompt-classification', names: PROMPT_CLASSIFICATION_METRICS },
      modelOptions: () => ({ config: { prompt_template: template.source, prompt_verbalizer: verbalizer.toJSON(), ...softPromptConfig(template) } }),
      summary: () => ({ template: template.source, verbalizer: verbalizer.toJSON(), ...(o.shots !== undefined ? { shots: o.shots } : {}), demonstrations: o.demonstrations === true }),
      headline: ['accuracy', 'f1_macro'],
    };
  },
};
