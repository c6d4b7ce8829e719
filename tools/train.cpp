// safnet-train: train (or fine-tune into a SAF) a ResNet on Fashion-MNIST, MNIST, CIFAR-10 or
// CIFAR-100, with atomic per-epoch checkpoints, bit-identical --resume, a live progress bar
// and a CSV log. Run with --help for the flags.
#include "cli.hpp"
#include "progress.hpp"

#include <safnet/safnet.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace {

struct Flags {
    std::string dataset, data_dir, model, saf, shortcut = "A";
    std::size_t epochs = 1, batch = 128, threads = 2, warmup = 0, train_limit = 0, test_limit = 0, stop_after = 0;
    double lr = 0.1, momentum = 0.9, wd = 5e-4, label_smoothing = 0.0;
    bool nesterov = false, resume = false, no_augment = false, quiet = false;
    std::string optimizer = "sgd", schedule = "cosine", out, csv, from;
    std::uint64_t seed = 1;
    std::vector<float> norm_mean, norm_std;
};

// A finite number > 0 (CLI11's PositiveNumber prints DBL_MAX as the range's upper end).
const CLI::Validator positive_finite(
    [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return "'" + text + "' is not a number";
        if (!(v > 0) || !std::isfinite(v)) return "must be a positive finite number, got " + text;
        return "";
    },
    "POSITIVE");

void add_flags(CLI::App& app, Flags& f) {
    app.add_option("--dataset", f.dataset, "fashion-mnist | mnist | cifar10 | cifar100 | cifar100-coarse (default: the --from file's, else fashion-mnist)")
        ->check(CLI::IsMember(safnet::data::dataset_names()));
    app.add_option("--data-dir", f.data_dir,
                   "directory with the dataset files (default for fashion-mnist: /usr/share/datasets/fashion-mnist)");
    app.add_option("--model", f.model, "resnet20 | resnet32 | resnet44 | resnet56 | resnet110 | resnet18 (default: the --from file's, else resnet20)")
        ->check(CLI::IsMember({"resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet18"}));
    app.add_option("--saf", f.saf, "weight SAF: none | tanh | arctan | softsign | modtanh | hardtanh | scaledtanh(a,b) | hardtanh(c) "
                                   "(default none, or the --from model's SAF)");
    app.add_option("--shortcut", f.shortcut, "CIFAR ResNet shortcut: A (zero-padding) or B (1x1 conv + BN)")
        ->check(CLI::IsMember({"A", "B"}))->capture_default_str();
    app.add_option("--epochs", f.epochs, "number of epochs")->check(CLI::Range(std::size_t{1}, std::size_t{100000}))->capture_default_str();
    app.add_option("--batch", f.batch, "mini-batch size")->check(CLI::Range(std::size_t{1}, std::size_t{65536}))->capture_default_str();
    app.add_option("--lr", f.lr, "peak learning rate")->check(positive_finite)->capture_default_str();
    app.add_option("--momentum", f.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999999))->capture_default_str();
    app.add_option("--wd", f.wd, "weight decay (on the raw weights; decoupled for AdamW)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
    app.add_flag("--nesterov", f.nesterov, "Nesterov momentum for SGD");
    app.add_option("--optimizer", f.optimizer, "sgd | adamw")->check(CLI::IsMember({"sgd", "adamw"}))->capture_default_str();
    app.add_option("--schedule", f.schedule, "cosine | step (x0.1 at 1/3 and 2/3) | constant")
        ->check(CLI::IsMember({"cosine", "step", "constant"}))->capture_default_str();
    app.add_option("--warmup", f.warmup, "epochs of linear learning-rate warm-up")->capture_default_str();
    app.add_option("--label-smoothing", f.label_smoothing, "label smoothing in [0, 1)")->check(CLI::Range(0.0, 0.999))->capture_default_str();
    app.add_option("--seed", f.seed, "seed of initialization, shuffling and augmentation")->capture_default_str();
    app.add_option("--threads", f.threads, "compute threads")->check(CLI::Range(std::size_t{1}, std::size_t{256}))->capture_default_str();
    app.add_option("--out", f.out, "checkpoint path (safetensors), written atomically after every epoch; "
                                   "resume state goes to <out>.state");
    app.add_option("--csv", f.csv, "per-epoch CSV log (default: <out>.csv when --out is given)");
    app.add_flag("--resume", f.resume, "continue from <out>.state with the same flags; ends bit-identical to an uninterrupted run");
    app.add_option("--stop-after", f.stop_after, "train at most N epochs in this invocation, then exit (continue with --resume)");
    app.add_option("--from", f.from, "start from this checkpoint (e.g. trained without a SAF): raw weights become "
                                     "tau^-1(clip(W)) for --saf, so training starts at the pretrained function");
    app.add_option("--train-limit", f.train_limit, "use only the first N training images (0 = all)")->capture_default_str();
    app.add_option("--test-limit", f.test_limit, "use only the first N test images (0 = all)")->capture_default_str();
    app.add_flag("--no-augment", f.no_augment, "disable random crop + flip (on by default for CIFAR)");
    app.add_option("--norm-mean", f.norm_mean, "per-channel mean on a 0..1 scale (default: the --from file's, else computed from the training split)")->delimiter(',');
    app.add_option("--norm-std", f.norm_std, "per-channel std on a 0..1 scale (default: computed from the training split)")->delimiter(',');
    app.add_flag("--quiet", f.quiet, "no progress bar");
}

int run(const Flags& given) {
    using namespace safnet;
    Flags f = given;
    if (!f.saf.empty()) saf_from_name(f.saf);  // fail on a bad name before loading any data
    std::optional<io::Safetensors> pretrained;
    std::optional<nn::ResNetOptions> src;  // the --from file's architecture
    if (!f.from.empty()) {  // a fine-tune takes its dataset and architecture from the file unless told otherwise
        pretrained = io::Safetensors::read_file(f.from);
        src = io::resnet_options(*pretrained);
        if (f.dataset.empty()) f.dataset = pretrained->meta("dataset");
        if (f.dataset.empty()) throw Error("--dataset: " + f.from + " records no dataset in its metadata; pass --dataset");
        if (f.model.empty()) f.model = src->arch;
    }
    if (f.dataset.empty()) f.dataset = "fashion-mnist";
    if (f.model.empty()) f.model = "resnet20";
    set_threads(f.threads);
    const std::string dir = f.data_dir.empty() ? data::default_data_dir(f.dataset) : f.data_dir;
    if (dir.empty()) throw Error("--data-dir is required for --dataset " + f.dataset);
    if (f.resume && f.out.empty()) throw Error("--resume needs --out (the checkpoint to resume)");
    if (f.resume && !f.from.empty()) throw Error("--resume and --from exclude each other (the state file already holds the weights)");
    if (!f.out.empty()) {
        const auto parent = std::filesystem::path(f.out).parent_path();
        if (!parent.empty() && !std::filesystem::is_directory(parent)) throw Error("--out: directory " + parent.string() + " does not exist");
    }
    const data::Dataset train = data::load_dataset(f.dataset, dir, true);
    const data::Dataset test = data::load_dataset(f.dataset, dir, false);

    nn::ResNetOptions mo{f.model, train.channels, train.classes, f.shortcut == "A" ? nn::Shortcut::A : nn::Shortcut::B, Identity{}};
    if (src) {
        if (src->arch != f.model) throw Error("--from " + f.from + " holds a " + src->arch + ", but --model is " + f.model);
        mo.shortcut = src->shortcut;
        mo.saf = src->saf;
    }
    if (!f.saf.empty()) mo.saf = saf_from_name(f.saf);

    train::TrainOptions o;
    o.dataset = f.dataset;
    o.epochs = f.epochs;
    o.batch = f.batch;
    o.optimizer = f.optimizer;
    o.lr = f.lr;
    o.momentum = f.momentum;
    o.weight_decay = f.wd;
    o.nesterov = f.nesterov;
    o.schedule = f.schedule;
    o.warmup_epochs = f.warmup;
    o.label_smoothing = f.label_smoothing;
    o.seed = f.seed;
    o.train_limit = f.train_limit;
    o.test_limit = f.test_limit;
    o.augment = f.no_augment ? data::Augmentation{} : data::default_augmentation(f.dataset);
    o.out = f.out;
    o.csv = !f.csv.empty() ? f.csv : (f.out.empty() ? "" : f.out + ".csv");
    o.resume = f.resume;
    o.stop_after = f.stop_after;
    if (!f.norm_mean.empty() || !f.norm_std.empty()) {
        o.norm = {f.norm_mean, f.norm_std};
    } else if (pretrained && !pretrained->meta("norm_mean").empty()) {
        o.norm = {io::split_floats(pretrained->meta("norm_mean"), f.from + ": norm_mean"),
                  io::split_floats(pretrained->meta("norm_std"), f.from + ": norm_std")};
    } else if (pretrained) {  // a model's normalization is never guessed from the data
        throw Error(f.from + ": no normalization in the file's metadata (norm_mean, norm_std); pass --norm-mean/--norm-std with the values "
                    "the model was trained with");
    } else {
        o.norm = data::channel_statistics(train);
    }
    o.norm.check(train.channels, "--norm-mean/--norm-std");

    nn::ResNet<float> model(mo);
    model.initialize(f.seed);
    if (pretrained) {
        const auto r = train::load_pretrained(model, *pretrained);
        std::printf("loaded %s: %zu SAF weights re-parametrized for %s (%zu clipped to its range)\n", f.from.c_str(), r.weights,
                    saf_name(mo.saf).c_str(), r.clipped);
        const auto before = train::evaluate(model, train::prepare(test, o.norm, f.test_limit));
        std::printf("test accuracy at step 0: %.2f %%\n", before.accuracy());
    }

    train::Trainer trainer(model, train, test, o);
    std::printf("safnet-train: %s (%zu parameters, SAF %s) on %s: %zu train images/epoch, %zu test, batch %zu, %zu threads\n",
                mo.arch.c_str(), model.parameter_count(), saf_name(mo.saf).c_str(), f.dataset.c_str(), trainer.images_per_epoch(),
                f.test_limit ? std::min(f.test_limit, test.size()) : test.size(), f.batch, f.threads);
    std::fflush(stdout);
    examples::ProgressBar bar(!f.quiet && examples::stdout_is_terminal());
    trainer.on_batch = [&](const train::BatchProgress& p) {
        char text[160];
        std::snprintf(text, sizeof text, "loss %.4f  acc %.2f %%  %.0f img/s  ETA %s", p.loss, p.accuracy, p.images_per_second,
                      examples::format_duration(p.eta_seconds).c_str());
        bar.update("epoch " + std::to_string(p.epoch) + "/" + std::to_string(p.epochs), p.batch, p.batches, text);
    };
    trainer.on_epoch = [&](const train::EpochRecord& r) {
        bar.finish();
        std::printf("epoch %zu/%zu  lr %.4g  train loss %.4f  train acc %.2f %%  test acc %.2f %%  %.1f s (%.0f img/s, loader wait %.2f s)\n",
                    r.epoch, f.epochs, r.lr, r.train_loss, r.train_accuracy, r.test_accuracy, r.seconds, r.images_per_second,
                    r.loader_wait_seconds);
        std::fflush(stdout);
    };
    const auto history = trainer.run();
    if (history.empty()) throw Error("no epochs recorded");
    if (history.size() < f.epochs) {
        std::printf("stopped after epoch %zu of %zu; continue with --resume\n", history.size(), f.epochs);
        return 0;
    }
    std::printf("final test accuracy: %.2f %%%s%s\n", history.back().test_accuracy, f.out.empty() ? "" : "  model: ",
                f.out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return safnet::examples::run_cli<Flags>("safnet-train", "safnet-train: train a fault-resilient (SAF-parametrized) ResNet", argc, argv, add_flags, run);
}
