// Relation classification (SemEval-2010 Task 8 style): the text carries entity markers
// ([E1] ... [/E1], [E2] ... [/E2], lib/tasks/relation-markers.ts) and the head classifies the pair
// from the concatenated hidden states of the two entity-start markers (Baldini Soares et al. 2019,
// "entity start"), or from the pooled [CLS] (config.relation_pooling = "cls", the classifier then
// being BertForSequenceClassification's). bert.cc builds the head's parameters and calls these.
#pragma once
#include "bert.h"

namespace roots {

// Whether the relation head of config `c` pools the two entity-start markers (else [CLS]).
bool RelationEntityStart(const BertConfig& c);

// The classifier's input width for config `c`: 2H (entity start) or H ([CLS]).
int64_t RelationFeatureSize(const BertConfig& c);

// Reads a relation batch's fields into `b`: entityPositions (Int32Array [B * 2], the token index of
// each row's [E1] and [E2]; required with entity-start pooling, even without labels) and labels
// ([B] class ids, or -100). Every position must lie on a real token of its row; ERR_INVALID_ARG
// naming the field and row otherwise.
void ReadRelationFields(Napi::Env env, Napi::Object o, const std::string& where, const BertConfig& c, BatchTensors& b);

// The hidden states at each row's two entity-start markers, side by side: x [B, T, H], positions
// int64 [B, 2] -> [B, 2H] (e1's state, then e2's).
torch::Tensor EntityStartStates(const torch::Tensor& x, const torch::Tensor& positions);

}  // namespace roots
