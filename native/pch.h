// Precompiled header: the LibTorch and node-addon-api headers every translation unit needs.
// Compiled once per build; editing a .cc file then recompiles only that file.
#pragma once
#include <torch/torch.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/serialize.h>
#include <napi.h>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <set>
#include <map>
#include <cstring>
