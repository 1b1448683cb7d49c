/* distill.c — see distill.h. */
#include "distill.h"
#include "../common/check.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bb_model_opts teacher_opts = {.training = false, .forward_only = true, .mem_charge = BB_MEM_TEACHER};

int bb_kd_parse(const char *spec, bb_kd_settings *kd, char *err, size_t err_len) {
    kd->alpha = BB_KD_ALPHA_DEFAULT;
    kd->temp = BB_KD_TEMP_DEFAULT;
    char buf[256];
    if (strlen(spec) >= sizeof buf) { snprintf(err, err_len, "--kd value too long"); return -1; }
    strcpy(buf, spec);
    if (!buf[0]) { snprintf(err, err_len, "--kd needs alpha=A,T=X"); return -1; }
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1]) {
            snprintf(err, err_len, "--kd: '%s' is not key=value (keys: alpha, T)", item);
            return -1;
        }
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        bool number = !errno && !*end && end != val && isfinite(v);
        if (strcmp(key, "alpha") == 0) {
            if (!number || v < 0.0 || v > 1.0) {
                snprintf(err, err_len, "--kd: alpha must be a number in [0, 1], got '%s'", val);
                return -1;
            }
            kd->alpha = (float)v;
        } else if (strcmp(key, "T") == 0) {
            if (!number || !(v > 0.0) || v > 1e6) {
                snprintf(err, err_len, "--kd: T must be a number > 0, got '%s'", val);
                return -1;
            }
            kd->temp = (float)v;
        } else {
            snprintf(err, err_len, "--kd: unknown key '%s' (keys: alpha, T)", key);
            return -1;
        }
    }
    return 0;
}

int bb_teacher_load(bb_model *t, const char *path, const bb_backend *be, bb_ckpt_info *info, char *err,
                    size_t err_len) {
    char inner[700];
    if (bb_checkpoint_load_opts(t, path, be, &teacher_opts, info, inner, sizeof inner) != 0) {
        snprintf(err, err_len, "teacher: %s", inner);
        return -1;
    }
    return 0;
}

int bb_teacher_init(bb_model *t, const bb_config *cfg, const bb_backend *be, char *err, size_t err_len) {
    return bb_model_init_opts(t, cfg, be, &teacher_opts, err, err_len);
}

int bb_teacher_check(const bb_config *teacher, const bb_config *student, int T, char *err, size_t err_len) {
    if (teacher->vocab_size != student->vocab_size) {
        snprintf(err, err_len, "the teacher's vocab_size is %d, the student's %d: distillation needs one vocabulary",
                 teacher->vocab_size, student->vocab_size);
        return -1;
    }
    if (T > teacher->max_seq) {
        snprintf(err, err_len, "the teacher's max_seq %d is shorter than the sequence length %d", teacher->max_seq, T);
        return -1;
    }
    return 0;
}

const float *bb_teacher_logits(bb_model *t, const int *inputs, int B, int T) {
    BB_CHECK(t->forward_only);
    bb_model_forward(t, inputs, NULL, B, T);
    return t->acts.logits;
}
