/* distill.h — knowledge distillation (issue #7; Hinton et al. 2015, arXiv 1503.02531;
 * spec evaluation.md §5.3): the `--kd` settings and the teacher. The loss is a backend op
 * (backend.h kd_forward / kd_backward) that bb_model_forward_kd uses in place of the
 * cross-entropy:
 *   loss = mean over kept targets of  alpha CE(z_s, y) + (1 - alpha) T^2 KL(P_T || Q_T),
 *   P_T = softmax(z_t / T) (teacher), Q_T = softmax(z_s / T) (student),
 * i.e. torchdistill's KDLoss (KLDivLoss(batchmean) over the kept tokens, beta = 1 - alpha):
 * alpha weights the HARD cross-entropy, not the distillation term.
 *
 * The teacher is a checkpoint (or packed export) loaded forward-only: no gradients, no
 * optimizer state, activation tables for one layer and no loss buffers (model.h
 * bb_model_opts), every table charged to BB_MEM_TEACHER so the memory breakdown shows it
 * on its own line. It may differ from the student in family, size and precision, but it
 * must share the vocabulary (same vocab_size; callers also compare the tokenizer identity
 * of the checkpoint) and cover the student's sequence length. */
#pragma once
#include "checkpoint.h"

typedef struct {
    float alpha;  /* weight of the hard CE; the soft term gets 1 - alpha */
    float temp;   /* the temperature T */
} bb_kd_settings;

#define BB_KD_ALPHA_DEFAULT 0.5f
#define BB_KD_TEMP_DEFAULT 2.0f

/* Parses "alpha=A,T=X" (a key left out keeps its default, 0.5 and 2). Checks
 * 0 <= alpha <= 1 and 0 < T (finite). Returns 0, or -1 with one sentence in err. */
int bb_kd_parse(const char *spec, bb_kd_settings *kd, char *err, size_t err_len);

/* Loads a teacher checkpoint forward-only under BB_MEM_TEACHER. 0 or -1 with a reason. */
int bb_teacher_load(bb_model *t, const char *path, const bb_backend *be, bb_ckpt_info *info, char *err,
                    size_t err_len);
/* A teacher from a config alone (weights still to be set): tests and the memory check. */
int bb_teacher_init(bb_model *t, const bb_config *cfg, const bb_backend *be, char *err, size_t err_len);
/* Can this teacher teach this student at sequence length T? Same vocab_size, and the
 * teacher's max_seq covers T. 0 or -1 with a reason. */
int bb_teacher_check(const bb_config *teacher, const bb_config *student, int T, char *err, size_t err_len);
/* The teacher's logits (B,T,V) for inputs (B,T); valid until its next forward. */
const float *bb_teacher_logits(bb_model *t, const int *inputs, int B, int T);
