/**
 * A small synthetic NER corpus for the demonstration and the tests: templated English sentences
 * with generated person, location and organisation names (no licensed data). Names are built from
 * syllables, so the dev and test sets are full of names the model never saw and it has to learn the
 * contexts; capitalised non-entities ("Police", "Shares", "Monday") keep capital letters from being
 * a shortcut. Tags are IOB2. Same seed, same corpus.
 */
import { writeFile } from 'node:fs/promises';
import { Rng } from '../data/rng.js';
import type { TaggedSentence } from '../data/readers.js';

const ONSETS = ['b', 'br', 'c', 'ch', 'd', 'f', 'g', 'gr', 'h', 'j', 'k', 'kr', 'l', 'm', 'n', 'p', 'r', 's', 'st', 't', 'tr', 'v', 'w', 'z'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou', 'ia'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'm', 'th', 'k', 'nd'];
const LOC_SUFFIX = ['burg', 'ville', 'stad', 'ford', 'holm', 'ton', 'mouth', 'dale'];
const ORG_SUFFIX = ['Corp', 'Systems', 'Industries', 'Group', 'Bank', 'Airlines', 'Motors', 'Labs', 'Energy', 'Media'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

type Slot = 'PER' | 'LOC' | 'ORG' | 'DAY' | 'MONTH' | 'NUM' | 'YEAR';

/** Templates: words, and {SLOT}s filled with generated names or numbers. */
const TEMPLATES: readonly string[] = [
  '{PER} visited {LOC} on {DAY} .',
  '{ORG} said on {DAY} it would open a new office in {LOC} .',
  '{PER} , the chief executive of {ORG} , resigned on {DAY} .',
  'Police in {LOC} arrested {PER} after a long chase .',
  '{PER} joined {ORG} in {MONTH} {YEAR} .',
  'Shares of {ORG} rose {NUM} percent in {LOC} on {DAY} .',
  '{PER} and {PER} met in {LOC} to discuss the merger .',
  'The mayor of {LOC} , {PER} , praised {ORG} for the new jobs .',
  '{ORG} hired {PER} as its new director .',
  'Flights from {LOC} to {LOC} were cancelled on {DAY} .',
  '{PER} scored twice as {ORG} beat {ORG} {NUM} - 1 .',
  'It rained all week in {LOC} .',
  'Nobody expected the vote to pass in {MONTH} .',
  '{PER} told reporters that {ORG} had no plans to leave {LOC} .',
  'Analysts at {ORG} expect profits to fall by {NUM} percent .',
  'Thousands of people marched through {LOC} on {DAY} .',
  'According to {PER} , the talks in {LOC} ended without a deal .',
  '{ORG} agreed to buy {ORG} for {NUM} million dollars .',
  'Officials said the storm hit {LOC} late on {DAY} night .',
  '{PER} , who was born in {LOC} , now works for {ORG} .',
  'Last year {PER} won the race in {LOC} .',
  'Talks between {ORG} and the union broke down in {MONTH} .',
  'Prices went up again in {MONTH} , the report said .',
  'Residents of {LOC} welcomed the decision by {ORG} .',
];

function capitalise(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

/** Generates names and sentences from one seeded stream. */
export class CorpusGenerator {
  readonly #rng: Rng;

  constructor(seed: number) {
    this.#rng = new Rng(seed);
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#rng.nextInt(list.length)];
  }

  #stem(syllables: number): string {
    let s = '';
    for (let i = 0; i < syllables; i++) s += this.#pick(ONSETS) + this.#pick(VOWELS) + (i === syllables - 1 ? this.#pick(CODAS) : '');
    return capitalise(s);
  }

  /** A person: first name and surname, sometimes with a middle initial. */
  person(): string[] {
    const name = [this.#stem(2 + this.#rng.nextInt(2)), this.#stem(2 + this.#rng.nextInt(2))];
    if (this.#rng.next() < 0.15) name.splice(1, 0, `${this.#pick(ONSETS)[0].toUpperCase()}.`);
    return name;
  }

  /** A location: a one-word place, `<Stem><suffix>`, or `Port / Lake / New <Stem>`. */
  location(): string[] {
    const r = this.#rng.next();
    if (r < 0.4) return [this.#stem(2)];
    if (r < 0.75) return [this.#stem(1) + this.#pick(LOC_SUFFIX)];
    return [this.#pick(['Port', 'Lake', 'New', 'East', 'North']), this.#stem(2)];
  }

  /** An organisation: `<Stem> Corp`, `<Stem> <Stem> Group`, `Bank of <Loc>`, `University of <Loc>`. */
  organisation(): string[] {
    const r = this.#rng.next();
    if (r < 0.55) return [this.#stem(2), this.#pick(ORG_SUFFIX)];
    if (r < 0.75) return [this.#stem(1), this.#stem(2), this.#pick(ORG_SUFFIX)];
    return [this.#pick(['Bank', 'University', 'Council']), 'of', ...this.location()];
  }

  #fill(slot: Slot): { words: string[]; type: string | null } {
    switch (slot) {
      case 'PER': return { words: this.person(), type: 'PER' };
      case 'LOC': return { words: this.location(), type: 'LOC' };
      case 'ORG': return { words: this.organisation(), type: 'ORG' };
      case 'DAY': return { words: [this.#pick(DAYS)], type: null };
      case 'MONTH': return { words: [this.#pick(MONTHS)], type: null };
      case 'NUM': return { words: [String(2 + this.#rng.nextInt(40))], type: null };
      case 'YEAR': return { words: [String(1990 + this.#rng.nextInt(35))], type: null };
    }
  }

  /** One sentence from a random template, tagged in IOB2. */
  sentence(): TaggedSentence {
    const tokens: string[] = [];
    const tags: string[] = [];
    for (const part of this.#pick(TEMPLATES).split(' ')) {
      const m = /^\{(\w+)\}$/.exec(part);
      if (!m) { tokens.push(part); tags.push('O'); continue; }
      const { words, type } = this.#fill(m[1] as Slot);
      words.forEach((w, i) => { tokens.push(w); tags.push(type ? `${i === 0 ? 'B' : 'I'}-${type}` : 'O'); });
    }
    return { tokens, tags };
  }

  sentences(n: number): TaggedSentence[] {
    return Array.from({ length: n }, () => this.sentence());
  }
}

/** Train, dev and test splits from independent streams (names rarely repeat across them). */
export function generateCorpus(options: { train?: number; dev?: number; test?: number; seed?: number } = {}): { train: TaggedSentence[]; dev: TaggedSentence[]; test: TaggedSentence[] } {
  const seed = options.seed ?? 7;
  return {
    train: new CorpusGenerator(seed).sentences(options.train ?? 2000),
    dev: new CorpusGenerator(seed + 1000).sentences(options.dev ?? 300),
    test: new CorpusGenerator(seed + 2000).sentences(options.test ?? 300),
  };
}

/** CoNLL text: `token TAG` per line, a blank line after each sentence. */
export function toConll(sentences: readonly TaggedSentence[]): string {
  return sentences.map((s) => s.tokens.map((t, i) => `${t} ${s.tags[i]}`).join('\n') + '\n').join('\n');
}

export async function writeConll(path: string, sentences: readonly TaggedSentence[]): Promise<void> {
  await writeFile(path, toConll(sentences));
}
