/* schemas.c — every CSV the harness writes (issue #8), one table per file: column names are
 * snake_case with the unit in the name, and each carries the line that documents it.
 * `bitbench bench schema` prints them as markdown; results/README.md holds that output and
 * tests/harness_test.sh checks every written header against these tables. Changing a
 * schema changes the header, and a results folder with the old header is then never
 * appended to (bench/csv.h). */
#include "schemas.h"

#define N(a) ((int)(sizeof a / sizeof a[0]))

/* The machine columns every row ends with, so a CSV copied alone still says where its
 * numbers came from. */
#define MACHINE_COLS                                                                          \
    {"cpu", "CPU model (bitbench env)"},                                                     \
    {"commit", "git commit of the build (git describe --dirty)"},                           \
    {"finished_utc", "when the row was written, UTC (ISO 8601)"}

static const bb_csv_col throughput_cols[] = {
    {"device", "cpu, or cuda (the engine's CUDA ops on host buffers, PCIe-bound: engine/cuda_backend.h)"},
    {"preset", "model preset (bitbench train --model)"},
    {"precision", "precision of the quantized linears: fp32 fp16 bf16 int8 int4 b158 (nf4: only as a LoRA base)"},
    {"method", "training method: full (QAT for quantized precisions), lora, kd (bench/methods.c)"},
    {"batch", "sequences per training step"},
    {"seq", "tokens per training sequence"},
    {"threads", "OpenMP/OpenBLAS threads"},
    {"checkpointing", "none; selective (recompute the attention probabilities in backward); or block (recompute "
                      "each block in backward)"},
    {"n_params", "parameters of the model, trainable or frozen (count)"},
    {"warmup_steps", "training steps run before timing (not timed)"},
    {"timed_steps", "training steps timed (median/min/max over these)"},
    {"step_ms_median", "median wall time of one training step: forward, backward, optimizer (ms)"},
    {"train_tokens_per_s_median", "training tokens/s of the median step (batch x seq / step time)"},
    {"train_tokens_per_s_min", "training tokens/s of the slowest timed step"},
    {"train_tokens_per_s_max", "training tokens/s of the fastest timed step"},
    {"train_ratio_to_fp32", "train_tokens_per_s_median / fp32's in this run, same device, preset, method, batch, seq, "
                            "threads, checkpointing (>1: faster than fp32)"},
    {"prefill_tokens", "prompt tokens per prefill (one sequence, full forward into the KV cache)"},
    {"prefill_tokens_per_s_median", "prefill tokens/s, median over the repetitions"},
    {"prefill_tokens_per_s_min", "prefill tokens/s, slowest repetition"},
    {"prefill_tokens_per_s_max", "prefill tokens/s, fastest repetition"},
    {"prefill_ratio_to_fp32", "prefill_tokens_per_s_median / fp32's in this run (same axes)"},
    {"decode_tokens", "tokens generated per repetition (greedy, KV cache, one sequence)"},
    {"decode_tokens_per_s_median", "decode tokens/s, median over the repetitions"},
    {"decode_tokens_per_s_min", "decode tokens/s, slowest repetition"},
    {"decode_tokens_per_s_max", "decode tokens/s, fastest repetition"},
    {"decode_ms_per_token_median", "1000 / decode_tokens_per_s_median (ms)"},
    {"decode_ratio_to_fp32", "decode_tokens_per_s_median / fp32's in this run (same axes)"},
    {"inference_repetitions", "prefill+decode repetitions (the first is a warm-up and not counted)"},
    {"first_loss", "training loss of the first step (nats/token): a sanity check, not a quality measure"},
    {"last_loss", "training loss of the last timed step (nats/token)"},
    {"other_cpu_share", "share of all CPUs that other processes took while the row was measured (0-1; -1 unknown)"},
    {"simd", "SIMD path of the kernels (BITBENCH_ISA forces one)"},
    MACHINE_COLS,
};
const bb_csv_schema bb_schema_throughput = {
    "throughput.csv", "`bitbench bench throughput`: one row per device x preset x precision x method x batch x seq x "
                      "threads x checkpointing.",
    throughput_cols, N(throughput_cols), 8};

static const bb_csv_col memory_cols[] = {
    {"device", "cpu, or cuda (host-side tracked bytes; the staged CUDA backend mirrors them on the GPU)"},
    {"preset", "model preset"},
    {"precision", "precision of the quantized linears"},
    {"method", "training method: full, lora, kd"},
    {"batch", "sequences per training step"},
    {"seq", "tokens per training sequence"},
    {"checkpointing", "none, selective (no attention probabilities kept) or block (one layer slot kept)"},
    {"n_params", "parameters of the model (count)"},
    {"measured_parameters_mib", "tracked allocator, category parameters (FP32 masters), after one training step (MiB)"},
    {"measured_packed_mib", "tracked, category packed weights (fake-quant copies + packed formats) (MiB)"},
    {"measured_gradients_mib", "tracked, category gradients (MiB)"},
    {"measured_optimizer_mib", "tracked, category optimizer (AdamW m and v) (MiB)"},
    {"measured_activations_mib", "tracked, category activations (MiB)"},
    {"measured_workspace_mib", "tracked, category workspace, without the kernels' activation cache (MiB)"},
    {"measured_teacher_mib", "tracked, category teacher: a KD teacher's weights and forward tables (MiB)"},
    {"measured_frozen_mib", "tracked, category frozen: a LoRA base's frozen FP32 tensors (embeddings, norms, head) (MiB)"},
    {"measured_adapters_mib", "tracked, category adapters: LoRA adapters A, B (MiB)"},
    {"measured_adapter_gradients_mib", "tracked, category adapter gradients: LoRA adapter gradients (MiB)"},
    {"measured_adapter_optimizer_mib", "tracked, category adapter optimizer: LoRA adapters' AdamW moments (MiB)"},
    {"measured_total_mib", "sum of the six measured_* categories above (MiB)"},
    {"measured_kernel_scratch_mib", "the packed kernels' reusable activation cache, not predicted (MiB)"},
    {"tracked_peak_mib", "peak of all tracked bytes during the row, above what was allocated before it (MiB)"},
    {"predicted_parameters_mib", "memory calculator (bitbench memcalc), parameters (MiB; empty: no prediction)"},
    {"predicted_packed_mib", "calculator, packed weights (MiB)"},
    {"predicted_gradients_mib", "calculator, gradients (MiB)"},
    {"predicted_optimizer_mib", "calculator, optimizer (MiB)"},
    {"predicted_activations_mib", "calculator, activations (MiB)"},
    {"predicted_workspace_mib", "calculator, workspace (MiB)"},
    {"predicted_teacher_mib", "calculator, KD teacher (MiB)"},
    {"predicted_frozen_mib", "calculator, a LoRA base's frozen FP32 tensors (embeddings, norms, head) (MiB)"},
    {"predicted_adapters_mib", "calculator, LoRA adapters A, B (MiB)"},
    {"predicted_adapter_gradients_mib", "calculator, LoRA adapter gradients (MiB)"},
    {"predicted_adapter_optimizer_mib", "calculator, LoRA adapters' AdamW moments (MiB)"},
    {"predicted_total_mib", "calculator, total of the six categories (MiB)"},
    {"predicted_error_pct", "100 x (predicted_total_mib - measured_total_mib) / measured_total_mib (%)"},
    {"baseline_rss_mib", "resident set size before the model was built: binary, libraries, data (MiB)"},
    {"peak_rss_mib", "peak resident set size of the process during the row (MiB)"},
    {"peak_rss_scope", "row (the kernel's peak counter was reset before the row) or process (peak since start)"},
    MACHINE_COLS,
};
const bb_csv_schema bb_schema_memory = {
    "memory.csv", "`bitbench bench memory`: one row per device x preset x precision x method x batch x seq x "
                  "checkpointing.",
    memory_cols, N(memory_cols), 7};

static const bb_csv_col quality_cols[] = {
    {"config_hash", "first 16 hex digits of SHA-256 of the row's whole configuration and binary: the cache key"},
    {"task", "lm (KJV causal LM) or mt (Greek->English verse translation)"},
    {"preset", "model preset"},
    {"precision", "precision of the quantized linears"},
    {"method", "full, lora or kd"},
    {"base_config_hash", "config_hash of the fp32 full row used as LoRA base or KD teacher (empty for full)"},
    {"steps", "optimizer steps"},
    {"batch", "sequences per step"},
    {"seq", "tokens per sequence (lm), longest row (mt)"},
    {"train_tokens", "input positions processed in training (the token budget actually used)"},
    {"lr", "peak learning rate (warm-up then cosine decay)"},
    {"seed", "weights and data-order seed"},
    {"final_train_loss", "mean training loss over the last 10% of the steps (nats/token)"},
    {"valid_loss", "lm: mean loss on the KJV valid split; mt: masked loss on the dev pairs (nats/token)"},
    {"valid_ppl", "exp(valid_loss)"},
    {"valid_bits_per_byte", "lm: valid NLL in bits per UTF-8 byte (eval/perplexity.h); empty for mt"},
    {"valid_token_accuracy_pct", "lm: top-1 next-token accuracy on the valid windows scored (%)"},
    {"test_loss", "lm: mean loss on the KJV test split (nats/token)"},
    {"test_ppl", "lm: exp(test_loss)"},
    {"test_bits_per_byte", "lm: test NLL in bits per UTF-8 byte"},
    {"eval_windows", "lm: windows of seq tokens scored per split at most (0: the whole split)"},
    {"mt_split", "mt: the split translated (test = Acts)"},
    {"mt_sentences", "mt: sentences translated (the first N of the split)"},
    {"mt_beam", "mt: beam width (1: greedy)"},
    {"bleu", "mt: corpus BLEU (sacreBLEU 2.6.0 exact, eval/bleu.h)"},
    {"chrf", "mt: corpus chrF2"},
    {"bleu_signature", "mt: sacreBLEU signature of bleu"},
    {"chrf_signature", "mt: sacreBLEU signature of chrf"},
    {"train_seconds", "wall time of training (s)"},
    {"eval_seconds", "wall time of evaluation (s)"},
    {"source", "trained (in this run) or cache (the same config_hash, trained earlier by this binary)"},
    MACHINE_COLS,
};
const bb_csv_schema bb_schema_quality = {
    "quality.csv", "`bitbench bench quality`: one row per task x preset x precision x method at one token budget.",
    quality_cols, N(quality_cols), 1};

static const bb_csv_col loss_cols[] = {
    {"config_hash", "the quality.csv row this curve belongs to"},
    {"step", "optimizer steps done"},
    {"task", "lm or mt"},
    {"precision", "precision of the quantized linears"},
    {"method", "full, lora or kd"},
    {"train_loss", "mean training loss of the steps since the previous point (nats/token)"},
    {"val_loss", "validation loss at this step (nats/token; empty where not evaluated)"},
    {"train_tokens", "input positions processed so far"},
};
const bb_csv_schema bb_schema_loss_curves = {
    "loss_curves.csv", "Training curves of `bitbench bench quality`: one row per config_hash x logged step.",
    loss_cols, N(loss_cols), 2};

static const bb_csv_col kernel_cols[] = {
    {"kind", "gemm (training shapes of small: compute-bound) or gemv (Llama-7B decode shapes: memory-bound)"},
    {"precision", "a packed precision, or an in-run reference: fp32-sgemm (OpenBLAS), fp32-sgemv, triad (STREAM)"},
    {"shape", "the layer the shape comes from"},
    {"kernel", "the kernel variant measured"},
    {"dispatched", "1: the kernel the engine runs for this precision here; 0: an alternative measured beside it"},
    {"tokens", "rows of activations (N)"},
    {"in_features", "input features (C)"},
    {"out_features", "output features (OC)"},
    {"seconds_per_call", "time of one call (bench gemm --stat: the fastest call by default) (s)"},
    {"gop_per_s", "2 N C OC / seconds_per_call / 1e9, whatever the number format (GOP/s)"},
    {"sgemm_gflop_per_s", "gemm: OpenBLAS sgemm at the same shape in this run (GFLOP/s)"},
    {"ratio_to_sgemm", "gemm: gop_per_s / sgemm_gflop_per_s"},
    {"weight_gb_per_s", "gemv: bytes of the packed weights / seconds_per_call (GB/s)"},
    {"triad_gb_per_s", "gemv: STREAM triad bandwidth in this run (GB/s)"},
    {"ratio_to_triad", "gemv: weight_gb_per_s / triad_gb_per_s"},
    {"threads", "OpenMP threads"},
    {"other_cpu_share", "share of all CPUs other processes took while the shape was measured (0-1; -1 unknown)"},
    {"cpu", "CPU model"},
    {"commit", "git commit of the build"},
};
const bb_csv_schema bb_schema_kernels = {
    "kernels.csv", "Packed-precision kernels against the in-run references (converted from gemm/gemm.csv of "
                   "`bitbench bench gemm`): one row per kind x precision x shape x kernel.",
    kernel_cols, N(kernel_cols), 4};

static const bb_csv_col fit_cols[] = {
    {"model", "model preset (shapes only for the large ones)"},
    {"precision", "precision of the quantized linears"},
    {"method", "full; frozen-base for a base-only format (nf4): its weights only, train_gib empty"},
    {"n_params", "parameters (count)"},
    {"batch", "sequences per step"},
    {"seq", "tokens per sequence"},
    {"checkpointing", "block: the catalogue predicts with block checkpointing (one layer slot kept)"},
    {"train_gib", "predicted training memory: weights, packed copies, gradients, optimizer, activations, "
                  "workspace (GiB)"},
    {"infer_gib", "packed inference weights (quantized linears packed, the rest FP32) (GiB)"},
    {"smallest_device_for_training", "the smallest device of fit_devices.csv whose memory holds train_gib (none: none)"},
};
const bb_csv_schema bb_schema_fit = {
    "fit.csv", "What fits where, from the validated memory calculator (`bitbench memcalc --fit`): one row per "
               "model x precision x method.",
    fit_cols, N(fit_cols), 3};

static const bb_csv_col fit_device_cols[] = {
    {"device", "device name as the claims write it"},
    {"memory_gib", "memory the device really has (GiB; 2x RTX 4090 = 48, not the claimed 96)"},
};
const bb_csv_schema bb_schema_fit_devices = {
    "fit_devices.csv", "The devices of the what-fits-where chart.", fit_device_cols, N(fit_device_cols), 1};

const bb_csv_schema *const bb_schemas[] = {&bb_schema_throughput, &bb_schema_memory,  &bb_schema_quality,
                                           &bb_schema_loss_curves, &bb_schema_kernels, &bb_schema_fit,
                                           &bb_schema_fit_devices};
const int bb_n_schemas = N(bb_schemas);
