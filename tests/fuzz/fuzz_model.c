/* fuzz_model.c - libFuzzer target: tf_model_open on arbitrary bytes, then
 * everything a caller may do with what it accepts.
 *
 * The input is written to a memfd and opened through /proc/self/fd/N, so
 * the path the library really uses (open, fstat, mmap) is the one fuzzed.
 * A rejected file must leave no model and a message; a file rejected as a
 * model is tried again vocab-only (its tokenizer may still load).  An
 * accepted model is described, its metadata rendered, a few texts
 * tokenized and detokenized, every piece and the chat prompt built, and a
 * small model is run: a context of at most 16 positions evaluates the
 * tokens, logits are read and a greedy sampler picks an id in range.
 */
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "tinfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fm_tokenize(tf_model *m, tf_token *ids, size_t cap, size_t *n_ids)
{
    static const char *const texts[] = {
        "Hello world", " the  quick\n\nbrown fox 1234", "<s><|im_start|>user\nhi<|im_end|>",
        "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82", "\xff\xfe bad \xc3", ""};
    int32_t nv = tf_n_vocab(m);
    *n_ids = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        for (int fl = 0; fl < 2; fl++) {
            size_t n = 0;
            tf_token buf[256];
            tf_status st = tf_tokenize(m, texts[i], strlen(texts[i]),
                                       fl ? TF_TOKENIZE_SPECIAL : TF_TOKENIZE_DEFAULT, buf,
                                       256, &n);
            if (st == TF_ERR_INVALID_ARG) continue; /* add_bos without a BOS id */
            FZ_CHECK(st == TF_OK);
            FZ_CHECK(n <= 256);
            for (size_t k = 0; k < n; k++) FZ_CHECK(buf[k] >= 0 && buf[k] < nv);
            char text[4096];
            size_t tn = 0;
            st = tf_detokenize(m, buf, n, fl ? TF_TOKENIZE_SPECIAL : 0, text, sizeof text, &tn);
            FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER);
            if (*n_ids == 0 && n > 0) {
                *n_ids = n < cap ? n : cap;
                memcpy(ids, buf, *n_ids * sizeof *ids);
            }
        }
}

static void fm_describe(tf_model *m)
{
    tf_model_desc d;
    FZ_CHECK(tf_model_describe(m, &d) == TF_OK);
    FZ_CHECK(d.n_vocab == tf_n_vocab(m) && d.n_vocab > 0);
    FZ_CHECK(d.arch && d.name && d.tokenizer && d.pretokenizer && d.rope_scaling);
    for (size_t i = 0; i < tf_model_n_meta(m); i++) {
        const char *key = NULL;
        FZ_CHECK(tf_model_meta_key(m, i, &key) == TF_OK && key);
        char small[8], *big;
        size_t n = 0;
        tf_status st = tf_model_meta_str(m, key, small, sizeof small, &n);
        FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER);
        big = malloc(n + 1);
        FZ_CHECK(big != NULL);
        FZ_CHECK(tf_model_meta_str(m, key, big, n + 1, &n) == TF_OK);
        free(big);
    }
    for (size_t i = 0; i < tf_model_n_tensors(m); i++) {
        tf_tensor_info ti;
        FZ_CHECK(tf_model_tensor(m, i, &ti) == TF_OK && ti.name && ti.type_name);
    }
    int32_t nv = d.n_vocab < 4096 ? d.n_vocab : 4096;
    for (tf_token t = -1; t <= nv; t++) {
        char buf[64];
        size_t n = 0;
        tf_status st = tf_token_to_piece(m, t, buf, sizeof buf, &n);
        bool out_of_range = t < 0 || t >= d.n_vocab;
        FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER || (st == TF_ERR_INVALID_ARG && out_of_range));
        (void)tf_token_is_eog(m, t);
    }
    char chat[1024];
    size_t cn = 0;
    tf_status st = tf_chat_format(m, "Be brief.", "Hi", chat, sizeof chat, &cn);
    FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER || st == TF_ERR_UNSUPPORTED);
}

/* A small model runs: evaluate, read logits, sample greedily, reset. */
static void fm_run(tf_model *m, const tf_token *ids, size_t n)
{
    tf_model_desc d;
    tf_model_describe(m, &d);
    if (d.vocab_only || d.weight_bytes > (8u << 20) || d.n_layer > 8 || d.n_embd > 1024 ||
        (uint64_t)d.n_vocab * (uint64_t)d.n_embd > (4u << 20))
        return;
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = d.n_ctx_train < 16 ? (uint32_t)d.n_ctx_train : 16;
    cp.n_batch = 8;
    cp.n_threads = 1;
    tf_context *c = NULL;
    tf_status st = tf_context_new(m, &cp, &c);
    if (st != TF_OK) {
        FZ_CHECK(c == NULL && tf_last_error()[0]);
        return;
    }
    tf_token one = (tf_token)(d.n_vocab - 1);
    if (n == 0) { ids = &one; n = 1; }
    if (n > tf_context_n_ctx(c)) n = tf_context_n_ctx(c);
    if (n > 8) n = 8;
    const float *logits = NULL;
    FZ_CHECK(tf_logits(c, -1, &logits) == TF_ERR_STATE);
    FZ_CHECK(tf_eval(c, ids, n, true) == TF_OK);
    FZ_CHECK(tf_logits(c, 0, &logits) == TF_OK);
    FZ_CHECK(tf_logits(c, -1, &logits) == TF_OK);
    tf_sampler_params sp = tf_sampler_default_params();
    sp.temp = 0;
    tf_sampler *s = NULL;
    FZ_CHECK(tf_sampler_new(&sp, d.n_vocab, &s) == TF_OK);
    tf_token next = -1;
    st = tf_sampler_sample(s, logits, &next);
    if (st != TF_OK) { /* refused only when no logit is above -inf (NaN weights) */
        FZ_CHECK(st == TF_ERR_INVALID_ARG);
        for (int32_t i = 0; i < d.n_vocab; i++) FZ_CHECK(!(logits[i] > -INFINITY));
        next = 0;
    }
    FZ_CHECK(next >= 0 && next < d.n_vocab);
    st = tf_eval(c, &next, 1, false);
    FZ_CHECK(st == TF_OK || (st == TF_ERR_CONTEXT_FULL && n == tf_context_n_ctx(c)));
    FZ_CHECK(tf_context_reset(c) == TF_OK);
    FZ_CHECK(tf_context_n_past(c) == 0);
    FZ_CHECK(tf_logits(c, -1, &logits) == TF_ERR_STATE);
    tf_sampler_free(s);
    tf_context_free(c);
}

static int fm_fd = -1;
static char fm_path[64];

static bool fm_write(const uint8_t *data, size_t size)
{
    if (fm_fd < 0) {
        fm_fd = memfd_create("tinfer-fuzz-model", MFD_CLOEXEC);
        FZ_CHECK(fm_fd >= 0);
        snprintf(fm_path, sizeof fm_path, "/proc/self/fd/%d", fm_fd);
    }
    FZ_CHECK(ftruncate(fm_fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fm_fd, data + done, size - done, (off_t)done);
        FZ_CHECK(w > 0);
        done += (size_t)w;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_write(data, size);
    tf_model_params p = tf_model_default_params();
    for (int pass = 0; pass < 2; pass++) {
        p.vocab_only = pass == 1;
        tf_model *m = (tf_model *)&m;
        tf_status st = tf_model_open(fm_path, &p, &m);
        if (st != TF_OK) {
            FZ_CHECK(m == NULL);
            FZ_CHECK(tf_last_error()[0] != 0);
            FZ_CHECK(st == TF_ERR_FORMAT || st == TF_ERR_UNSUPPORTED || st == TF_ERR_IO ||
                     st == TF_ERR_NOMEM);
            if (st == TF_ERR_IO) return 0; /* too short to map */
            continue;
        }
        tf_token ids[8];
        size_t n = 0;
        fm_describe(m);
        fm_tokenize(m, ids, 8, &n);
        fm_run(m, ids, n);
        tf_model_close(m);
        break;
    }
    return 0;
}
