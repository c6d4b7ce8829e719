// safnet/train/trainer.hpp — the training loop behind safnet-train: epochs over a prefetched,
// augmented loader; SGD or AdamW on a cosine/step schedule; test accuracy after each epoch;
// atomic checkpoints; bit-identical resume.
//
//   train::Trainer t(model, train_set, test_set, options);
//   t.on_batch = [](const train::BatchProgress& p) { ... };   // progress bars
//   auto history = t.run();
//
// Files (when options.out is set), all written atomically after every epoch:
//   out                 the model (safnet/io/checkpoint.hpp layout + metadata: arch, saf,
//                       dataset, epoch, test_accuracy, seed, normalization, version)
//   state_path(out)     everything needed to resume: the model, optimizer state
//                       ("optimizer.<param>.momentum_buffer" ...), the step counter, the
//                       epoch history, and the options it was started with
//   options.csv         one row per epoch (if set)
// Resume: with options.resume, the state file's options must equal the current ones
// (otherwise an error names the first that differs) and training continues at the next
// epoch. Batches depend only on (seed, epoch, batch index) (safnet/data/loader.hpp) and the
// state holds every other input of a step, so the resumed run ends bit-identical to an
// uninterrupted one with the same thread count. The state is written before the model file:
// a kill between the two leaves the model one epoch behind, never inconsistent.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/data/loader.hpp>
#include <safnet/io/checkpoint.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/schedule.hpp>
#include <safnet/train/evaluate.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <sstream>
#include <variant>

namespace safnet::train {

struct TrainOptions {
    std::string dataset = "fashion-mnist";
    std::size_t epochs = 1;
    std::size_t batch = 128;
    std::string optimizer = "sgd";  // sgd | adamw
    double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
    bool nesterov = false;
    std::string schedule = "cosine";  // cosine | step (x0.1 at 1/3 and 2/3) | constant
    std::size_t warmup_epochs = 0;
    double label_smoothing = 0.0;
    std::uint64_t seed = 1;
    std::size_t train_limit = 0;  // 0 = the whole training split
    std::size_t test_limit = 0;   // 0 = the whole test split
    data::Augmentation augment{};
    data::Normalization norm{};
    std::string out;  // model checkpoint path; "" = no files
    std::string csv;  // per-epoch CSV log; "" = none
    bool resume = false;
    std::size_t stop_after = 0;  // train at most this many epochs in this run (0 = to the end); not part of the fingerprint
    std::size_t eval_batch = 500;
};

struct EpochRecord {
    std::size_t epoch = 0;  // 1-based
    double lr = 0, train_loss = 0, train_accuracy = 0, test_accuracy = 0;
    double seconds = 0, images_per_second = 0, loader_wait_seconds = 0;
};

struct BatchProgress {
    std::size_t epoch = 0, epochs = 0, batch = 0, batches = 0;  // epoch and batch 1-based
    double loss = 0, accuracy = 0, images_per_second = 0, eta_seconds = 0;
};

inline std::string state_path(const std::string& out) { return out + ".state"; }

inline std::string history_csv(const std::vector<EpochRecord>& h) {
    std::string s = "epoch,lr,train_loss,train_accuracy,test_accuracy,seconds,images_per_second,loader_wait_seconds\n";
    char line[512];
    for (const auto& r : h) {
        std::snprintf(line, sizeof line, "%zu,%.17g,%.17g,%.17g,%.17g,%.6f,%.3f,%.6f\n", r.epoch, r.lr, r.train_loss, r.train_accuracy,
                      r.test_accuracy, r.seconds, r.images_per_second, r.loader_wait_seconds);
        s += line;
    }
    return s;
}

/// Reads history_csv() output back, strictly: 8 fields per line, epochs 1, 2, 3, ... in order.
inline std::vector<EpochRecord> parse_history_csv(const std::string& text, const std::string& source) {
    std::vector<EpochRecord> h;
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::vector<std::string> f;
        std::stringstream fields(line);
        for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
        if (f.size() != 8) throw Error(source + ": corrupt training history line '" + line + "' (expected 8 fields)");
        const std::string what = source + ": training history line '" + line + "'";
        EpochRecord r;
        r.epoch = parse_unsigned(f[0], std::numeric_limits<std::uint32_t>::max(), what + ", epoch");
        if (r.epoch != h.size() + 1)
            throw Error(what + ": epoch " + std::to_string(r.epoch) + " where epoch " + std::to_string(h.size() + 1) + " was expected");
        double* const values[] = {&r.lr, &r.train_loss, &r.train_accuracy, &r.test_accuracy, &r.seconds, &r.images_per_second, &r.loader_wait_seconds};
        for (std::size_t i = 0; i < 7; ++i) {  // nan is legal here: a diverged epoch's loss
            const auto [end, ec] = std::from_chars(f[i + 1].data(), f[i + 1].data() + f[i + 1].size(), *values[i]);
            if (f[i + 1].empty() || ec != std::errc() || end != f[i + 1].data() + f[i + 1].size()) throw Error(what + ": '" + f[i + 1] + "' is not a number");
        }
        h.push_back(r);
    }
    return h;
}

class Trainer {
public:
    using Model = nn::ResNet<float>;
    using Optimizer = std::variant<nn::Sgd<float>, nn::AdamW<float>>;

    Trainer(Model& model, const data::Dataset& train, const data::Dataset& test, TrainOptions o)
        : model_(model), train_(train), o_(std::move(o)), optimizer_(make_optimizer(o_)) {
        if (o_.epochs == 0) throw Error("training: epochs must be positive");
        if (o_.batch == 0) throw Error("training: the batch size must be positive");
        if (!(o_.lr > 0) || !std::isfinite(o_.lr)) throw Error("training: the learning rate must be a positive finite number");
        if (!(o_.momentum >= 0 && o_.momentum < 1)) throw Error("training: momentum must be in [0, 1), got " + std::to_string(o_.momentum));
        if (!(o_.weight_decay >= 0 && o_.weight_decay <= 1)) throw Error("training: weight decay must be in [0, 1], got " + std::to_string(o_.weight_decay));
        if (!(o_.label_smoothing >= 0 && o_.label_smoothing < 1))
            throw Error("training: label smoothing must be in [0, 1), got " + std::to_string(o_.label_smoothing));
        if (o_.stop_after && o_.out.empty())
            throw Error("training: stopping after " + std::to_string(o_.stop_after) + " epochs needs an output path (nothing would be saved to resume from)");
        if (!o_.csv.empty() && !o_.out.empty()) {
            const auto same = [](const std::string& a, const std::string& b) {
                return std::filesystem::weakly_canonical(a) == std::filesystem::weakly_canonical(b);
            };
            if (same(o_.csv, o_.out) || same(o_.csv, state_path(o_.out)))
                throw Error("training: the CSV log " + o_.csv + " is the model or its training state; give it another path");
        }
        if (o_.warmup_epochs > o_.epochs)
            throw Error("training: " + std::to_string(o_.warmup_epochs) + " warm-up epochs exceed the " + std::to_string(o_.epochs) + " epochs");
        if (train.classes != model.options().num_classes || test.classes != model.options().num_classes)
            throw Error("dataset " + train.name + " has " + std::to_string(train.classes) + " classes, the model " +
                        std::to_string(model.options().num_classes));
        if (train.channels != model.options().in_channels)
            throw Error("dataset " + train.name + " has " + std::to_string(train.channels) + "-channel images, the model expects " +
                        std::to_string(model.options().in_channels));
        test_ = prepare(test, o_.norm, o_.test_limit);
        loader_.emplace(train, data::LoaderOptions{o_.batch, true, false, o_.augment, o_.norm, o_.seed, true, o_.train_limit});
        const auto per_epoch = static_cast<long>(loader_->batches_per_epoch());
        schedule_.kind = nn::Schedule::kind_from_name(o_.schedule);
        schedule_.lr = o_.lr;
        schedule_.total = per_epoch * static_cast<long>(o_.epochs);
        schedule_.warmup = per_epoch * static_cast<long>(o_.warmup_epochs);
        schedule_.step_size = std::max(1L, (schedule_.total - schedule_.warmup) / 3);
    }

    std::function<void(const BatchProgress&)> on_batch;
    std::function<void(const EpochRecord&)> on_epoch;

    const std::vector<EpochRecord>& history() const noexcept { return history_; }
    std::size_t images_per_epoch() const noexcept { return loader_->images_per_epoch(); }

    /// The options as "key=value" lines: what a resumed run must agree with.
    std::map<std::string, std::string> fingerprint() const {
        const auto& m = model_.options();
        auto num = [](double v) {
            std::ostringstream s;
            s.precision(17);
            s << v;
            return s.str();
        };
        return {{"arch", m.arch}, {"saf", saf_name(m.saf)}, {"shortcut", m.shortcut == nn::Shortcut::A ? "A" : "B"},
                {"dataset", o_.dataset}, {"epochs", std::to_string(o_.epochs)}, {"batch", std::to_string(o_.batch)},
                {"optimizer", o_.optimizer}, {"lr", num(o_.lr)}, {"momentum", num(o_.momentum)}, {"wd", num(o_.weight_decay)},
                {"nesterov", o_.nesterov ? "1" : "0"}, {"schedule", o_.schedule}, {"warmup", std::to_string(o_.warmup_epochs)},
                {"label_smoothing", num(o_.label_smoothing)}, {"seed", std::to_string(o_.seed)},
                {"train_limit", std::to_string(o_.train_limit)}, {"test_limit", std::to_string(o_.test_limit)}, {"augment", std::to_string(o_.augment.pad) + (o_.augment.flip ? "+flip" : "")},
                {"norm", io::join_floats(o_.norm.mean) + "/" + io::join_floats(o_.norm.std)}};
    }

    std::vector<EpochRecord> run() {
        std::size_t first_epoch = 0;
        if (o_.resume) first_epoch = restore();
        nn::SoftmaxCrossEntropy<float> ce(o_.label_smoothing);
        nn::Tensor<float> dlogits;
        data::Batch b;
        const std::size_t last = o_.stop_after ? std::min(o_.epochs, first_epoch + o_.stop_after) : o_.epochs;
        for (std::size_t epoch = first_epoch; epoch < last; ++epoch) {
            EpochRecord rec = train_epoch(epoch, ce, dlogits, b);
            rec.test_accuracy = evaluate(model_, test_, o_.eval_batch, eval_x_).accuracy();
            history_.push_back(rec);
            save(epoch + 1);
            if (on_epoch) on_epoch(rec);
        }
        return history_;
    }

private:
    static Optimizer make_optimizer(const TrainOptions& o) {
        if (o.optimizer == "sgd") return nn::Sgd<float>({o.lr, o.momentum, o.weight_decay, o.nesterov});
        if (o.optimizer == "adamw") return nn::AdamW<float>({o.lr, 0.9, 0.999, 1e-8, o.weight_decay});
        throw Error("--optimizer: unknown optimizer '" + o.optimizer + "'; valid: sgd, adamw");
    }

    EpochRecord train_epoch(std::size_t epoch, nn::SoftmaxCrossEntropy<float>& ce, nn::Tensor<float>& dlogits, data::Batch& b) {
        using clock = std::chrono::steady_clock;
        EpochRecord rec;
        rec.epoch = epoch + 1;
        const std::size_t batches = loader_->batches_per_epoch();
        double loss_sum = 0, wait = 0;
        std::size_t seen = 0, correct = 0, index = 0;
        const auto start = clock::now();
        loader_->start_epoch(epoch);
        for (;;) {
            const auto w0 = clock::now();
            if (!loader_->next(b)) break;
            wait += std::chrono::duration<double>(clock::now() - w0).count();
            const double lr = schedule_(step_);
            std::visit([&](auto& opt) { opt.set_lr(lr); }, optimizer_);
            const auto& logits = model_.forward(b.images, nn::Mode::train);
            const double loss = ce.forward(logits, b.labels);
            if (!std::isfinite(loss)) {  // diverged: stop before a non-finite model can be saved and then measured as robust
                char what[160];
                std::snprintf(what, sizeof what, "the loss of epoch %zu, batch %zu is %g at learning rate %g", epoch + 1, index + 1, std::abs(loss), lr);
                throw Error(std::string("training diverged: ") + what + "; nothing of this epoch is saved (lower the learning rate)");
            }
            correct += nn::count_correct(logits, b.labels);
            ce.backward(dlogits);
            model_.backward(dlogits);
            std::visit([&](auto& opt) { opt.step(model_); }, optimizer_);
            ++step_;
            rec.lr = lr;
            seen += b.labels.size();
            loss_sum += loss * static_cast<double>(b.labels.size());
            ++index;
            if (on_batch) {
                const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
                BatchProgress p{epoch + 1, o_.epochs, index, batches, loss_sum / static_cast<double>(seen),
                                100.0 * static_cast<double>(correct) / static_cast<double>(seen), static_cast<double>(seen) / elapsed, 0};
                p.eta_seconds = elapsed / static_cast<double>(index) * static_cast<double>(batches - index);
                on_batch(p);
            }
        }
        // The last step's update is not seen by any loss: check the weights it produced.
        model_.for_each_parameter([&](const nn::Parameter<float>& p) {
            for (const float v : p.value->span())
                if (!std::isfinite(v))
                    throw Error("training diverged: parameter '" + p.name + "' holds " + std::to_string(v) + " after epoch " + std::to_string(epoch + 1) +
                                "; nothing of this epoch is saved (lower the learning rate)");
        });
        rec.seconds = std::chrono::duration<double>(clock::now() - start).count();
        rec.train_loss = loss_sum / static_cast<double>(std::max<std::size_t>(seen, 1));
        rec.train_accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(std::max<std::size_t>(seen, 1));
        rec.images_per_second = static_cast<double>(seen) / rec.seconds;
        rec.loader_wait_seconds = wait;
        return rec;
    }

    io::Metadata metadata(std::size_t epochs_done) const {
        io::Metadata m = io::architecture_metadata(model_.options());
        m["dataset"] = o_.dataset;
        m["epoch"] = std::to_string(epochs_done);
        m["seed"] = std::to_string(o_.seed);
        if (!history_.empty()) {
            char acc[32];
            std::snprintf(acc, sizeof acc, "%.2f", history_.back().test_accuracy);
            m["test_accuracy"] = acc;
            m["test_images"] = std::to_string(test_.size());  // what test_accuracy was measured on
        }
        if (!o_.norm.empty()) {
            m["norm_mean"] = io::join_floats(o_.norm.mean);
            m["norm_std"] = io::join_floats(o_.norm.std);
        }
        const auto& first = train_.image_shape();
        m["input_height"] = std::to_string(first[1]);
        m["input_width"] = std::to_string(first[2]);
        return m;
    }

    void save(std::size_t epochs_done) {
        if (!o_.csv.empty()) io::write_file_atomic(o_.csv, history_csv(history_));
        if (o_.out.empty()) return;
        io::SafetensorsWriter w;
        io::add_model_tensors(w, model_, step_);
        std::visit([&](auto& opt) {
            opt.for_each_state(model_, [&](const std::string& name, nn::Tensor<float>& t) {
                w.add("optimizer." + name, std::span<const float>(t.data(), t.size()), io::detail::dims_of(t.shape()));
            });
            if constexpr (requires { opt.step_count(); }) w.set_metadata("adam_steps", std::to_string(opt.step_count()));
        }, optimizer_);
        io::Metadata m = metadata(epochs_done);
        m["step"] = std::to_string(step_);
        m["history"] = history_csv(history_);
        std::string fp;
        for (const auto& [k, v] : fingerprint()) fp += k + "=" + v + "\n";
        m["train_options"] = fp;
        for (const auto& [k, v] : m) w.set_metadata(k, v);
        w.set_metadata("safnet_version", version_string);
        w.write(state_path(o_.out));
        io::save_model(model_, o_.out, metadata(epochs_done), step_);
    }

    std::size_t restore() {
        const std::string path = state_path(o_.out);
        const io::Safetensors f = io::Safetensors::read_file(path);
        std::string expected;
        for (const auto& [k, v] : fingerprint()) expected += k + "=" + v + "\n";
        const std::string saved = f.meta("train_options");
        if (saved != expected) {
            std::istringstream a(saved), b(expected);
            std::string la, lb;
            while (std::getline(a, la) && std::getline(b, lb))
                if (la != lb) throw Error(path + ": --resume needs the options of the interrupted run; it had " + la + ", now " + lb);
            throw Error(path + ": --resume needs the options of the interrupted run, and they differ");
        }
        io::load_model(model_, f, {"optimizer."});
        std::visit([&](auto& opt) {
            opt.for_each_state(model_, [&](const std::string& name, nn::Tensor<float>& t) {
                const auto& info = f.info("optimizer." + name);
                if (info.shape != io::detail::dims_of(t.shape())) throw Error(path + ": optimizer state '" + name + "' has the wrong shape");
                f.read_floats("optimizer." + name, t.span());
            });
            if constexpr (requires { opt.step_count(); }) opt.step_count() = meta_integer(f, "adam_steps");
        }, optimizer_);
        step_ = meta_integer(f, "step");
        history_ = parse_history_csv(f.meta("history"), path);
        const auto done = static_cast<std::size_t>(meta_integer(f, "epoch"));
        if (done != history_.size()) throw Error(path + ": epoch count and history disagree");
        return done;
    }

    static long meta_integer(const io::Safetensors& f, const std::string& key) {
        return static_cast<long>(parse_unsigned(f.meta(key), std::numeric_limits<std::int64_t>::max(), f.source() + ": metadata '" + key + "'"));
    }

    Model& model_;
    const data::Dataset& train_;
    TrainOptions o_;
    Optimizer optimizer_;
    PreparedSet test_;
    std::optional<data::BatchLoader> loader_;
    nn::Schedule schedule_;
    nn::Tensor<float> eval_x_;
    std::vector<EpochRecord> history_;
    long step_ = 0;
};

}  // namespace safnet::train
