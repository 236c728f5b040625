/**
 * Few-shot sampling as LM-BFF does it: K examples per class from a training set, and a dev set of
 * the same size (another K per class, disjoint) for model selection. Deterministic per seed: the
 * same data, K and seed give the same examples on every machine.
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { Rng } from '../data/rng.js';

export interface FewShotOptions<E> {
  /** K: examples per class. */
  shots: number;
  seed: number;
  /** The class of an example (default: its `label`, which must be a string). */
  labelOf?: (example: E) => string;
  /** Also draw a dev set of K per class (default true). */
  dev?: boolean;
  /** What the examples are, for messages (default 'the training set'). */
  source?: string;
}

export interface FewShotSplit<E> {
  train: E[];
  dev: E[];
  /** Classes in the order they were drawn (sorted). */
  classes: string[];
}

/** K per class for training (and K per class for dev), each class shuffled with the seed. */
export function sampleFewShot<E>(examples: readonly E[], options: FewShotOptions<E>): FewShotSplit<E> {
  const k = expectPositiveInt('shots', options.shots);
  if (!Number.isInteger(options.seed)) throw new RootsError('ERR_INVALID_ARG', `Expected an integer seed (--seed) but received ${describe(options.seed)}`);
  const withDev = options.dev ?? true;
  const source = options.source ?? 'the training set';
  const labelOf = options.labelOf ?? ((e: E) => {
    const label = (e as { label?: unknown }).label;
    if (typeof label !== 'string') throw new RootsError('ERR_INVALID_ARG', `Few-shot sampling needs one string label per example, but an example of ${source} has ${describe(label)}`);
    return label;
  });
  const byClass = new Map<string, number[]>();
  examples.forEach((e, i) => {
    const c = labelOf(e);
    const list = byClass.get(c) ?? [];
    list.push(i);
    byClass.set(c, list);
  });
  const classes = [...byClass.keys()].sort();
  const need = withDev ? 2 * k : k;
  const short = classes.filter((c) => byClass.get(c)!.length < need);
  if (short.length) {
    const list = short.map((c) => `${JSON.stringify(c)} has ${byClass.get(c)!.length}`).join(', ');
    throw new RootsError('ERR_INVALID_ARG', `--shots ${k}: ${withDev ? `K per class for training and K for the dev set need ${need}` : `need ${k}`} examples of each class, but in ${source} ${list}; lower --shots`);
  }
  const rng = new Rng(options.seed);
  const train: E[] = [];
  const dev: E[] = [];
  for (const c of classes) {
    const order = rng.shuffle(byClass.get(c)!.slice());
    for (let i = 0; i < k; i++) train.push(examples[order[i]]);
    if (withDev) for (let i = k; i < 2 * k; i++) dev.push(examples[order[i]]);
  }
  return { train, dev, classes };
}
