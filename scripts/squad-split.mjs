#!/usr/bin/env node
/**
 * Splits a SQuAD file by article for training and testing, never one article on both sides:
 * article i (0-based, file order) goes to the test side when i % EVERY === EVERY - 1 (default 5:
 * SQuAD v1.1's dev set gives 39 articles / 8,595 questions to train on and 9 / 1,975 to test).
 * Both outputs keep SQuAD's layout ({"version", "data"}), so the official scorer reads test.json.
 *
 *   node scripts/squad-split.mjs dev-v1.1.json OUT_DIR [--every 5]
 *
 * Writes OUT_DIR/train.json and OUT_DIR/test.json (each written to a temporary file and renamed).
 * The same rule is lib/data/squad.ts's splitArticles.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const everyAt = args.indexOf('--every');
const every = everyAt >= 0 ? Number(args.splice(everyAt, 2)[1]) : 5;
const [input, out] = args;
if (!input || !out || !Number.isInteger(every) || every < 2) {
  console.error('usage: node scripts/squad-split.mjs SQUAD.json OUT_DIR [--every N (N >= 2, default 5)]');
  process.exit(1);
}
const squad = JSON.parse(readFileSync(input, 'utf8'));
if (!Array.isArray(squad.data)) {
  console.error(`${input}: not a SQuAD file (no "data" list of articles)`);
  process.exit(1);
}
const sides = { train: [], test: [] };
squad.data.forEach((article, i) => { sides[i % every === every - 1 ? 'test' : 'train'].push(article); });
mkdirSync(out, { recursive: true });
for (const [name, data] of Object.entries(sides)) {
  const path = join(out, `${name}.json`);
  writeFileSync(`${path}.tmp-${process.pid}`, JSON.stringify({ version: squad.version, data }));
  renameSync(`${path}.tmp-${process.pid}`, path);
  const questions = data.reduce((n, a) => n + a.paragraphs.reduce((m, p) => m + p.qas.length, 0), 0);
  console.log(`${path}: ${data.length} articles, ${questions} questions`);
}
