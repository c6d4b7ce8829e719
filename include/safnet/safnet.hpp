// safnet/safnet.hpp — the umbrella header: everything public in safnet.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/error.hpp>
#include <safnet/profile.hpp>
#include <safnet/threads.hpp>
#include <safnet/version.hpp>

#include <safnet/saf.hpp>

#include <safnet/codec/bfloat16.hpp>
#include <safnet/codec/codec.hpp>
#include <safnet/codec/fixed_point.hpp>
#include <safnet/codec/float16.hpp>
#include <safnet/codec/float32.hpp>
#include <safnet/codec/registry.hpp>

#include <safnet/data/cifar.hpp>
#include <safnet/data/dataset.hpp>
#include <safnet/data/idx.hpp>
#include <safnet/data/loader.hpp>
#include <safnet/data/registry.hpp>

#include <safnet/fault/inject/bitflip.hpp>
#include <safnet/fault/inject/fault_model.hpp>
#include <safnet/fault/report/paired.hpp>
#include <safnet/fault/report/plots.hpp>
#include <safnet/fault/report/report.hpp>
#include <safnet/fault/report/results_dir.hpp>
#include <safnet/fault/run/campaign.hpp>
#include <safnet/fault/run/prefix_cache.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/fault/run/timing_log.hpp>
#include <safnet/fault/stats/ber_curve.hpp>
#include <safnet/fault/stats/design.hpp>
#include <safnet/fault/stats/estimator.hpp>
#include <safnet/fault/stats/statistics.hpp>
#include <safnet/fault/stats/strata.hpp>

#include <safnet/io/atomic_file.hpp>
#include <safnet/io/checkpoint.hpp>
#include <safnet/io/dir_lock.hpp>
#include <safnet/io/gnuplot.hpp>
#include <safnet/io/model_file.hpp>
#include <safnet/io/read_file.hpp>
#include <safnet/io/safetensors.hpp>
#include <safnet/io/sha256.hpp>

#include <safnet/nn/activation.hpp>
#include <safnet/nn/batchnorm.hpp>
#include <safnet/nn/conv2d.hpp>
#include <safnet/nn/conv_algorithm.hpp>
#include <safnet/nn/executor.hpp>
#include <safnet/nn/linear.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/parameter.hpp>
#include <safnet/nn/pooling.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/nn/saf_weight.hpp>
#include <safnet/nn/schedule.hpp>
#include <safnet/nn/shortcut.hpp>
#include <safnet/nn/tensor.hpp>

#include <safnet/random/philox.hpp>

#include <safnet/train/evaluate.hpp>
#include <safnet/train/finetune.hpp>
#include <safnet/train/trainer.hpp>
