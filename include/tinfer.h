/* tinfer.h - the one public header of libtinfer.
 *
 * Data flow: tf_model_open (GGUF file -> validated weights + tokenizer)
 *   -> tf_context_new (KV cache, planned buffers)
 *   -> tf_tokenize -> tf_eval -> tf_logits -> tf_sampler_sample -> tf_token_to_piece.
 *
 * Conventions
 * - Every call that can fail returns tf_status; TF_OK is 0.
 * - Objects keep their own last error message (tf_model_error, ...).  A
 *   constructor that fails has no object: its message is in tf_last_error(),
 *   which is per thread.
 * - open/close and new/free pairs; every close/free accepts NULL.
 * - The caller owns what it passes in; tinfer copies what it keeps.
 * - Buffers follow the size-query convention: a call whose buffer is too
 *   small (or NULL with cap 0) returns TF_ERR_BUFFER and stores the size
 *   needed in *n_out.
 * - Thread safety: a tf_model is immutable after open and may be shared by
 *   any number of contexts used from different threads.  A tf_context or
 *   tf_sampler must be used by one thread at a time.
 * - The library never exits, never prints (except the CLI), never opens a
 *   network connection.
 */
#ifndef TINFER_H
#define TINFER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINFER_VERSION_MAJOR 0
#define TINFER_VERSION_MINOR 1
#define TINFER_VERSION_PATCH 0

typedef enum tf_status {
    TF_OK = 0,
    TF_ERR_INVALID_ARG = 1, /* a bad argument from the caller */
    TF_ERR_IO = 2,          /* open/read/map failed */
    TF_ERR_FORMAT = 3,      /* the file is malformed or inconsistent */
    TF_ERR_UNSUPPORTED = 4, /* valid, but tinfer can't run it */
    TF_ERR_NOMEM = 5,       /* an allocation failed */
    TF_ERR_BUFFER = 6,      /* output buffer too small: *n_out has the size */
    TF_ERR_CONTEXT_FULL = 7,/* the KV cache has no room for the batch */
    TF_ERR_BACKEND = 8,     /* the compute backend failed */
    TF_ERR_STATE = 9        /* call out of order (e.g. logits before eval) */
} tf_status;

typedef int32_t tf_token;
typedef struct tf_model tf_model;
typedef struct tf_context tf_context;
typedef struct tf_sampler tf_sampler;

/* "0.1.0" */
const char *tf_version(void);
/* Short name of a status ("format error"). */
const char *tf_status_str(tf_status s);
/* Message of the last failed constructor on this thread ("" if none). */
const char *tf_last_error(void);

/* ---- model --------------------------------------------------------- */

typedef enum tf_backend_kind {
    TF_BACKEND_CPU = 0,
    TF_BACKEND_VULKAN = 1
} tf_backend_kind;

typedef struct tf_model_params {
    tf_backend_kind backend; /* default CPU; Vulkan needs a build with it */
    int device;              /* backend device index, -1 = best (Vulkan:
                              * enumeration order; best = discrete >
                              * integrated > virtual > CPU) */
    bool vocab_only;         /* load the tokenizer alone (no weights) */
    /* Round F16 matrices to BF16 at load (CPU backend only; the default,
     * false, computes them as stored).  On CPUs with AVX512_BF16 this
     * doubles the rate of prompt products (BF16 pair dots instead of F32
     * FMAs) at the cost of 3 significand bits in weights and activations;
     * elsewhere it only costs the accuracy.  Takes a BF16 copy of those
     * matrices (their size in memory). */
    bool f16_as_bf16;
} tf_model_params;

tf_model_params tf_model_default_params(void);

/* Map and validate a GGUF model.  A file without weights (a vocabulary
 * file) opens as vocab-only: tokenizing works, contexts don't. */
tf_status tf_model_open(const char *path, const tf_model_params *params,
                        tf_model **out);
void tf_model_close(tf_model *m);
const char *tf_model_error(const tf_model *m);

typedef struct tf_model_desc {
    const char *arch;     /* "llama", "qwen2", ... */
    const char *name;     /* general.name or "" */
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv;
    int32_t n_ff, n_rot, n_expert, n_expert_used;
    float rope_freq_base, rope_freq_scale, rms_eps;
    const char *rope_scaling; /* "none", "linear", "yarn" */
    bool tied_output;
    bool vocab_only;
    const char *tokenizer;  /* "llama" (SentencePiece), "gpt2" (BPE) */
    const char *pretokenizer; /* tokenizer.ggml.pre or "" */
    uint64_t n_params;
    uint64_t weight_bytes;
    uint64_t file_bytes;
    /* Mixture of experts (0 when dense): rows of one routed expert's FFN,
     * shared experts and the rows of their (fused) FFN. */
    int32_t n_ff_exp, n_expert_shared, n_ff_shexp;
} tf_model_desc;

tf_status tf_model_describe(const tf_model *m, tf_model_desc *out);

typedef struct tf_tensor_info {
    const char *name;  /* valid while the model is open */
    uint32_t type;     /* GGUF type id */
    const char *type_name;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t bytes;
    uint64_t offset;   /* in the file */
} tf_tensor_info;

size_t tf_model_n_tensors(const tf_model *m);
tf_status tf_model_tensor(const tf_model *m, size_t i, tf_tensor_info *out);

/* Metadata as text ("llama.block_count" -> "30"); arrays are summarised
 * ("[array of 49152 string]").  Size-query convention. */
size_t tf_model_n_meta(const tf_model *m);
tf_status tf_model_meta_key(const tf_model *m, size_t i, const char **key);
tf_status tf_model_meta_str(const tf_model *m, const char *key, char *buf,
                            size_t cap, size_t *n_out);

/* ---- tokenizer ----------------------------------------------------- */

enum {
    TF_TOKENIZE_DEFAULT = 0,     /* BOS/EOS as the model asks */
    TF_TOKENIZE_NO_BOS = 1 << 0, /* never add BOS */
    TF_TOKENIZE_ADD_BOS = 1 << 1,/* always add BOS */
    TF_TOKENIZE_SPECIAL = 1 << 2 /* parse special-token text like <|im_start|> */
};

tf_status tf_tokenize(const tf_model *m, const char *text, size_t len,
                      int flags, tf_token *out, size_t cap, size_t *n_out);
/* Text of one token as it appears in output (byte tokens give one byte,
 * "▁" gives a space).  Size-query convention. */
tf_status tf_token_to_piece(const tf_model *m, tf_token t, char *buf,
                            size_t cap, size_t *n_out);
/* Concatenated text of tokens (special/control tokens render only with
 * TF_TOKENIZE_SPECIAL).  Size-query convention. */
tf_status tf_detokenize(const tf_model *m, const tf_token *toks, size_t n,
                        int flags, char *buf, size_t cap, size_t *n_out);

/* Streaming detokenizer: feed tokens, get only complete UTF-8 back. */
typedef struct tf_detok_stream {
    unsigned char pend[8]; /* bytes of an incomplete UTF-8 sequence */
    size_t n_pend;
} tf_detok_stream;
/* Appends the text of t to buf, keeping back a trailing incomplete UTF-8
 * sequence.  With t < 0 flushes what is pending (invalid bytes as is). */
tf_status tf_detok_stream_push(const tf_model *m, tf_detok_stream *s,
                               tf_token t, char *buf, size_t cap,
                               size_t *n_out);

tf_token tf_token_bos(const tf_model *m); /* -1 when the model has none */
tf_token tf_token_eos(const tf_model *m);
tf_token tf_token_eot(const tf_model *m);
/* End of generation: EOS, EOT or another end token the vocabulary marks. */
bool tf_token_is_eog(const tf_model *m, tf_token t);
int32_t tf_n_vocab(const tf_model *m);

/* Wrap a user message (and optional system text) in the model's chat
 * template, ready for generation.  Recognised: ChatML, Llama 2, Llama 3,
 * Gemma, Phi-3 (from tokenizer.chat_template); template code is never
 * executed.  Size-query convention. */
tf_status tf_chat_format(const tf_model *m, const char *system,
                         const char *user, char *buf, size_t cap,
                         size_t *n_out);

/* ---- context ------------------------------------------------------- */

typedef enum tf_kv_type { TF_KV_F16 = 0, TF_KV_F32 = 1 } tf_kv_type;

typedef struct tf_context_params {
    uint32_t n_ctx;    /* 0 = min(model's training context, 4096) */
    uint32_t n_batch;  /* most tokens per tf_eval call; 0 = 512 */
    int n_threads;     /* 0 = number of online CPUs */
    tf_kv_type kv_type;
} tf_context_params;

tf_context_params tf_context_default_params(void);

tf_status tf_context_new(tf_model *m, const tf_context_params *p,
                         tf_context **out);
/* Zeroes the KV cache, tokens and logits before freeing (prompts are
 * private).  NULL-safe. */
void tf_context_free(tf_context *c);
const char *tf_context_error(const tf_context *c);
/* Forget all positions (zeroes the cache). */
tf_status tf_context_reset(tf_context *c);
/* Where the context runs, for display: "cpu (8 threads)", or the Vulkan
 * device ("vulkan device 0: NAME (discrete GPU, 24.0 GiB, subgroup 32)").
 * Valid while the context lives. */
const char *tf_context_backend(const tf_context *c);
uint32_t tf_context_n_ctx(const tf_context *c);
/* Positions already in the cache. */
uint32_t tf_context_n_past(const tf_context *c);

/* Evaluate n tokens at positions n_past .. n_past+n-1 as one batch.
 * all_logits: keep logits of every position (else only the last). */
tf_status tf_eval(tf_context *c, const tf_token *toks, size_t n,
                  bool all_logits);
/* Logits (n_vocab floats) of batch row i of the last tf_eval; i = -1 is
 * the last row.  Valid until the next eval/reset/free. */
tf_status tf_logits(tf_context *c, int32_t i, const float **out);

/* ---- sampler ------------------------------------------------------- */

typedef struct tf_sampler_params {
    float temp;            /* <= 0: greedy */
    int32_t top_k;         /* <= 0: off */
    float top_p;           /* >= 1: off */
    float min_p;           /* <= 0: off */
    float repeat_penalty;  /* 1: off */
    float presence_penalty;
    float frequency_penalty;
    int32_t penalty_last_n;/* window of recent tokens; 0: off, -1: n_ctx */
    uint64_t seed;
} tf_sampler_params;

tf_sampler_params tf_sampler_default_params(void);
tf_status tf_sampler_new(const tf_sampler_params *p, int32_t n_vocab,
                         tf_sampler **out);
void tf_sampler_free(tf_sampler *s);
const char *tf_sampler_error(const tf_sampler *s);
/* Pick a token from logits (n_vocab floats; not modified). */
tf_status tf_sampler_sample(tf_sampler *s, const float *logits,
                            tf_token *out);
/* Record a token (prompt or generated) for the penalties' window. */
tf_status tf_sampler_accept(tf_sampler *s, tf_token t);
void tf_sampler_reset(tf_sampler *s);

/* ---- quantization --------------------------------------------------- */

/* Progress of tf_quantize: reported when a tensor starts (rows_done 0)
 * and after each batch of its rows.  Strings are valid during the call. */
typedef struct tf_quantize_progress {
    size_t i_tensor, n_tensors; /* tensor being written (0-based) */
    const char *name;
    uint32_t src_type, dst_type; /* GGUF type ids */
    const char *src_type_name, *dst_type_name;
    int64_t rows_done, rows;     /* of this tensor */
    uint64_t bytes_done, bytes_total; /* tensor data written, whole file */
    /* Non-NULL once, when the tensor starts, if its rows don't fit the
     * type the recipe wanted and it falls back to another (the reason). */
    const char *note;
} tf_quantize_progress;

typedef void (*tf_quantize_progress_fn)(const tf_quantize_progress *p, void *user);

typedef struct tf_quantize_params {
    int n_threads;  /* 0 = number of online CPUs; the output is identical for any */
    bool pure;      /* every quantized matrix gets the base type: no mix rules */
    tf_quantize_progress_fn progress; /* may be NULL */
    void *user;     /* passed to progress */
} tf_quantize_params;

tf_quantize_params tf_quantize_default_params(void);

/* Rewrite the GGUF model `in` with its matrices in the file type named by
 * type_name (case-insensitive; tf_quantize_type_names lists them).  Every
 * readable tensor type is a valid source.  Metadata is copied, with
 * general.file_type and general.quantization_version set (and an
 * alignment below 32 raised to 32).  Tensors are written in the reference
 * engine's order, so for the 32-element types (Q4_0 ... Q8_0, IQ4_NL) an
 * F32 source gives the reference's file byte for byte.  The output is
 * written to OUT.tmp and renamed to out on success; on failure no file is
 * left.  Errors: tf_last_error(). */
tf_status tf_quantize(const char *in, const char *out, const char *type_name,
                      const tf_quantize_params *p);

/* Space-separated names tf_quantize accepts ("F32 F16 ... Q5_K_M"). */
const char *tf_quantize_type_names(void);

#ifdef __cplusplus
}
#endif
#endif
