/**
 * Saving: tokenizer.json, tokenizer_config.json, special_tokens_map.json and (for WordPiece)
 * vocab.txt, so a model folder is self-contained for us and for HF Transformers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RootsError } from '../errors.js';
import type { Json, SpecialTokens } from './types.js';

/** What a tokenizer writes: its tokenizer.json and config, and the values that override the config. */
export interface SavedTokenizer {
  json: Json;
  config: Json;
  specialTokens: SpecialTokens;
  doLowerCase: boolean;
  modelMaxLength: number | undefined;
}

/** The vocab.txt of a WordPiece vocabulary (one token a line, line = id). */
function vocabTxt(vocab: Record<string, number>): string {
  const byId: string[] = [];
  for (const [token, id] of Object.entries(vocab)) byId[id] = token;
  for (let i = 0; i < byId.length; i++) {
    if (byId[i] === undefined) throw new RootsError('ERR_CONFIG', `Cannot write vocab.txt: no token has id ${i} (ids must run 0..${byId.length - 1} without gaps)`);
  }
  return byId.join('\n') + '\n';
}

/** Writes the tokenizer files into `path` (created if missing). */
export async function saveTokenizer(path: string, t: SavedTokenizer): Promise<void> {
  const model = t.json.model as Json;
  const norm = t.json.normalizer as Json | null;
  const specials = {
    unk_token: t.specialTokens.unk, sep_token: t.specialTokens.sep, pad_token: t.specialTokens.pad,
    cls_token: t.specialTokens.cls, mask_token: t.specialTokens.mask,
  };
  const config: Json = { ...t.config };
  delete config.added_tokens_decoder;
  Object.assign(config, specials, {
    do_lower_case: t.doLowerCase,
    ...(norm?.type === 'BertNormalizer' && { strip_accents: norm.strip_accents ?? null, tokenize_chinese_chars: norm.handle_chinese_chars ?? true }),
    clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? true,
    tokenizer_class: config.tokenizer_class ?? (model.type === 'WordPiece' ? 'BertTokenizer' : 'PreTrainedTokenizerFast'),
    ...(t.modelMaxLength !== undefined && { model_max_length: t.modelMaxLength }),
  });
  const vocab = model.type === 'WordPiece' ? vocabTxt(model.vocab as Record<string, number>) : undefined;
  try {
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'tokenizer.json'), JSON.stringify(t.json, null, 2) + '\n');
    await writeFile(join(path, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
    await writeFile(join(path, 'special_tokens_map.json'), JSON.stringify(specials, null, 2) + '\n');
    if (vocab !== undefined) await writeFile(join(path, 'vocab.txt'), vocab);
  } catch (err) {
    throw new RootsError('ERR_IO', `Cannot save the tokenizer to ${path}: ${(err as Error).message}`, { cause: err });
  }
}
