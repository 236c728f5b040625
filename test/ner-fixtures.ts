// Shared fixtures of the trainer, pipeline and CLI tests: a small generated NER corpus, its
// vocabulary and tokenizer, and tiny models (fast on 2 cores).
import { generateCorpus } from '../lib/demo/corpus.js';
import { buildVocab } from '../lib/demo/vocab.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { LabelVocab } from '../lib/data/labels.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import type { TaggedSentence } from '../lib/data/readers.js';

export interface Fixture {
  train: TaggedSentence[];
  dev: TaggedSentence[];
  test: TaggedSentence[];
  vocab: string[];
  tokenizer: Tokenizer;
  labels: string[];
}

export function corpusFixture(sizes: { train?: number; dev?: number; test?: number } = {}, seed = 3): Fixture {
  const c = generateCorpus({ train: sizes.train ?? 200, dev: sizes.dev ?? 40, test: sizes.test ?? 40, seed });
  const vocab = buildVocab(c.train.map((s) => s.tokens), { size: 800 });
  const tokenizer = Tokenizer.fromVocab(vocab, { do_lower_case: false, model_max_length: 64 });
  const labels = [...LabelVocab.fromTags([...c.train, ...c.dev, ...c.test].map((s) => s.tags)).labels];
  return { ...c, vocab, tokenizer, labels };
}

export const TINY = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 };

export function tinyModel(f: Fixture, seed = 1, config: Record<string, unknown> = {}): BertForTokenClassification {
  return BertForTokenClassification.fromConfig({ ...TINY, vocab_size: f.vocab.length, ...config }, { labels: f.labels, seed, log: null });
}

/** All parameters of a model by name (copies). */
export function snapshot(model: BertForTokenClassification): Map<string, Float32Array> {
  return new Map(model.parameters().map((p) => [p.name, model.getParameter(p.name)]));
}

/** Names of the parameters where two snapshots differ (exact comparison, NaN-aware). */
export function differing(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  const out: string[] = [];
  for (const [name, x] of a) {
    const y = b.get(name)!;
    if (x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]))) out.push(name);
  }
  return out;
}
