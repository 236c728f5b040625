// Prompt-based classification over the masked-LM head (PET, LM-BFF): the label scores are the
// vocabulary log-probabilities at each row's [MASK], gathered at the verbalizer's token ids, and the
// loss is cross-entropy over those scores. lib/prompt/ builds the inputs; bert.cc calls these.
#pragma once
#include "bert.h"

namespace roots {

// Reads the prompt fields of a Batch for a masked-LM model into `b`: maskPositions (Int32Array [B],
// the [MASK] of each row), verbalizerIds and verbalizerWeights ([C * K]: K token ids per label,
// weight 0 on padding), verbalizerLabels (C) and, optionally, labels ([B] class ids, or -100).
// Returns false when the batch has no maskPositions (a plain masked-LM batch); throws
// ERR_INVALID_ARG naming the field for anything malformed, or for prompt fields on another head.
bool ReadPromptFields(Napi::Env env, Napi::Object o, const std::string& where, const BertConfig& c, BatchTensors& b);

// Soft prompts (P-tuning): a model whose config has soft_prompt_tokens = P holds the trainable
// "soft_prompt.embeddings" [P, H]; a batch's softPromptSlots (Int32Array [B * T], -1 for ordinary
// tokens, k for the template's k-th [P]) says where they replace the word embeddings. Read here
// (called by ReadPromptFields, so any batch may carry them); an error for a model without them.
void ReadSoftPromptSlots(Napi::Env env, Napi::Object o, const std::string& where, const BertConfig& c, BatchTensors& b);

// The word embeddings x [B, T, H] with the soft prompt's rows at the slots (int64 [B, T], -1: keep).
torch::Tensor SoftPromptEmbeddings(const torch::Tensor& x, const torch::Tensor& prompt, const torch::Tensor& slots);

// The hidden states at each row's mask: x [B, T, H], positions int64 [B] -> [B, H].
torch::Tensor PromptMaskStates(const torch::Tensor& x, const torch::Tensor& positions);

// Label scores [B, C] from the vocabulary logits at the masks [B, V]: log_softmax over V (fp32),
// then s[b, c] = sum_k weights[c, k] * logp[b, ids[c, k]]. With weights 1/(words * pieces of the
// word) this is the mean over a label's words of the mean log-probability of each word's pieces;
// for one single-token word per label, softmax(s) = softmax of the logits restricted to those ids.
torch::Tensor PromptScores(const torch::Tensor& vocabLogits, const torch::Tensor& ids, const torch::Tensor& weights);

}  // namespace roots
