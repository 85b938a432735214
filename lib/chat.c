/* chat.c - tf_chat_format: recognise the model's chat template by marker
 * strings (see chat.h) and write the prompt for one exchange. */
#include <stdint.h>
#include <string.h>
#include "internal.h"
#include "chat.h"

#define SUPPORTED_LIST "ChatML, Llama 2, Llama 3, Gemma, Phi-3"

/* ---- detection ------------------------------------------------------ */

/* Does tmpl[0..len) contain the NUL-terminated needle? */
static bool has(const char *tmpl, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0) return true;
    if (!tmpl || nl > len) return false;
    const char *p = tmpl, *end = tmpl + len - nl + 1;
    while (p < end) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p) return false;
        if (memcmp(p, needle, nl) == 0) return true;
        p++;
    }
    return false;
}

static bool equals(const char *tmpl, size_t len, const char *name)
{
    return tmpl && strlen(name) == len && memcmp(tmpl, name, len) == 0;
}

static bool starts(const char *tmpl, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    return tmpl && pl <= len && memcmp(tmpl, prefix, pl) == 0;
}

static const struct {
    const char *name;
    int kind;
} builtin_names[] = {
    {"chatml", TF_CHAT_CHATML},
    {"llama2", TF_CHAT_LLAMA2},
    {"llama2-sys", TF_CHAT_LLAMA2_SYS},
    {"llama2-sys-bos", TF_CHAT_LLAMA2_SYS},
    {"llama2-sys-strip", TF_CHAT_LLAMA2_SYS_STRIP},
    {"llama3", TF_CHAT_LLAMA3},
    {"gemma", TF_CHAT_GEMMA},
    {"phi3", TF_CHAT_PHI3},
};

/* The [INST] family: Mistral's own formats, else Llama 2 variants.  The
 * "BOS inside history" variant renders one exchange as the <<SYS>> one. */
static int detect_inst(const char *t, size_t n)
{
    if (has(t, n, "[SYSTEM_PROMPT]")) return TF_CHAT_X_MISTRAL;
    if (has(t, n, "' [INST] ' + system_message") ||
        has(t, n, "[AVAILABLE_TOOLS]"))
        return TF_CHAT_X_MISTRAL;
    if (has(t, n, "content.strip()")) return TF_CHAT_LLAMA2_SYS_STRIP;
    if (has(t, n, "bos_token + '[INST]")) return TF_CHAT_LLAMA2_SYS;
    if (has(t, n, "<<SYS>>")) return TF_CHAT_LLAMA2_SYS;
    return TF_CHAT_LLAMA2;
}

int tf_chat_detect(const char *t, size_t n)
{
    if (!t || n == 0) return TF_CHAT_UNKNOWN;
    for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
        if (equals(t, n, builtin_names[i].name)) return builtin_names[i].kind;

    /* The reference engine's precedence: the first rule that matches. */
    if (has(t, n, "<|im_start|>")) {
        if (has(t, n, "<|im_sep|>")) return TF_CHAT_X_PHI4;
        if (has(t, n, "<end_of_utterance>")) return TF_CHAT_X_SMOLVLM;
        return TF_CHAT_CHATML;
    }
    if (starts(t, n, "mistral") || has(t, n, "[INST]"))
        return detect_inst(t, n);
    if (has(t, n, "<|assistant|>") && has(t, n, "<|end|>"))
        return TF_CHAT_PHI3;
    if (has(t, n, "[gMASK]<sop>")) return TF_CHAT_X_GLM4;
    if (has(t, n, "<|assistant|>") && has(t, n, "<|user|>"))
        return TF_CHAT_X_FALCON3;
    if (has(t, n, "<|user|>") && has(t, n, "<|endoftext|>"))
        return TF_CHAT_X_ZEPHYR;
    if (has(t, n, "bos_token + message['role']")) return TF_CHAT_X_MONARCH;
    if (has(t, n, "<start_of_turn>")) return TF_CHAT_GEMMA;
    if (has(t, n, "'\\n\\nAssistant: ' + eos_token")) return TF_CHAT_X_ORION;
    if (has(t, n, "GPT4 Correct ")) return TF_CHAT_X_OPENCHAT;
    if (has(t, n, "USER: ") && has(t, n, "ASSISTANT: "))
        return TF_CHAT_X_VICUNA;
    if (has(t, n, "### Instruction:") && has(t, n, "<|EOT|>"))
        return TF_CHAT_X_DEEPSEEK;
    if (has(t, n, "<|START_OF_TURN_TOKEN|>") && has(t, n, "<|USER_TOKEN|>"))
        return TF_CHAT_X_COMMAND_R;
    if (has(t, n, "<|start_header_id|>") && has(t, n, "<|end_header_id|>"))
        return TF_CHAT_LLAMA3;
    return TF_CHAT_UNKNOWN;
}

const char *tf_chat_kind_name(int kind)
{
    switch (kind) {
    case TF_CHAT_CHATML: return "ChatML";
    case TF_CHAT_LLAMA2: return "Llama 2 (no system role)";
    case TF_CHAT_LLAMA2_SYS: return "Llama 2";
    case TF_CHAT_LLAMA2_SYS_STRIP: return "Llama 2 (stripped)";
    case TF_CHAT_LLAMA3: return "Llama 3";
    case TF_CHAT_GEMMA: return "Gemma";
    case TF_CHAT_PHI3: return "Phi-3";
    case TF_CHAT_X_PHI4: return "Phi-4";
    case TF_CHAT_X_MISTRAL: return "Mistral (v1/v3/v7)";
    case TF_CHAT_X_FALCON3: return "Falcon 3 / GLM-Edge";
    case TF_CHAT_X_ZEPHYR: return "Zephyr";
    case TF_CHAT_X_MONARCH: return "Monarch";
    case TF_CHAT_X_ORION: return "Orion";
    case TF_CHAT_X_OPENCHAT: return "OpenChat";
    case TF_CHAT_X_VICUNA: return "Vicuna";
    case TF_CHAT_X_DEEPSEEK: return "DeepSeek";
    case TF_CHAT_X_COMMAND_R: return "Command-R";
    case TF_CHAT_X_SMOLVLM: return "SmolVLM";
    case TF_CHAT_X_GLM4: return "GLM-4";
    default: return "unknown";
    }
}

/* ---- rendering ------------------------------------------------------ */

typedef struct out_buf {
    char *buf;
    size_t cap, n; /* n counts every byte, written or not */
    bool overflow; /* n would exceed SIZE_MAX */
} out_buf;

static void put_n(out_buf *o, const char *s, size_t len)
{
    if (o->overflow) return;
    if (len > SIZE_MAX - o->n) {
        o->overflow = true;
        return;
    }
    if (o->buf && o->n + len <= o->cap) memcpy(o->buf + o->n, s, len);
    o->n += len;
}

static void put(out_buf *o, const char *s)
{
    put_n(o, s, strlen(s));
}

/* The ASCII whitespace of C's isspace in the "C" locale. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

/* s without leading and trailing whitespace. */
static void put_trimmed(out_buf *o, const char *s)
{
    size_t a = 0, b = strlen(s);
    while (a < b && is_space(s[a])) a++;
    while (b > a && is_space(s[b - 1])) b--;
    put_n(o, s + a, b - a);
}

static bool trimmed_empty(const char *s)
{
    while (*s && is_space(*s)) s++;
    return *s == '\0';
}

static void render_llama2(out_buf *o, int kind, const char *sys,
                          const char *user)
{
    bool strip = kind == TF_CHAT_LLAMA2_SYS_STRIP;
    void (*text)(out_buf *, const char *) = strip ? put_trimmed : put;
    put(o, "[INST] ");
    if (sys) {
        if (kind == TF_CHAT_LLAMA2) {
            text(o, sys);
            put(o, "\n");
        } else {
            put(o, "<<SYS>>\n");
            text(o, sys);
            put(o, "\n<</SYS>>\n\n");
        }
    }
    text(o, user);
    put(o, " [/INST]");
}

/* Writes the prompt of kind into o; false for a kind it can't render. */
static bool render(out_buf *o, int kind, const char *sys, const char *user)
{
    switch (kind) {
    case TF_CHAT_CHATML:
        if (sys) {
            put(o, "<|im_start|>system\n");
            put(o, sys);
            put(o, "<|im_end|>\n");
        }
        put(o, "<|im_start|>user\n");
        put(o, user);
        put(o, "<|im_end|>\n<|im_start|>assistant\n");
        return true;
    case TF_CHAT_LLAMA2:
    case TF_CHAT_LLAMA2_SYS:
    case TF_CHAT_LLAMA2_SYS_STRIP:
        render_llama2(o, kind, sys, user);
        return true;
    case TF_CHAT_LLAMA3:
        if (sys) {
            put(o, "<|start_header_id|>system<|end_header_id|>\n\n");
            put_trimmed(o, sys);
            put(o, "<|eot_id|>");
        }
        put(o, "<|start_header_id|>user<|end_header_id|>\n\n");
        put_trimmed(o, user);
        put(o, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        return true;
    case TF_CHAT_GEMMA: /* no system role: it leads the user turn */
        put(o, "<start_of_turn>user\n");
        if (sys && !trimmed_empty(sys)) {
            put_trimmed(o, sys);
            put(o, "\n\n");
        }
        put_trimmed(o, user);
        put(o, "<end_of_turn>\n<start_of_turn>model\n");
        return true;
    case TF_CHAT_PHI3:
        if (sys) {
            put(o, "<|system|>\n");
            put(o, sys);
            put(o, "<|end|>\n");
        }
        put(o, "<|user|>\n");
        put(o, user);
        put(o, "<|end|>\n<|assistant|>\n");
        return true;
    default:
        return false;
    }
}

tf_status tf_chat_render(int kind, const char *system, const char *user,
                         char *buf, size_t cap, size_t *n_out)
{
    if (!user || (!buf && cap > 0)) return TF_ERR_INVALID_ARG;
    if (system && !system[0]) system = NULL;
    out_buf o = {buf, buf ? cap : 0, 0, false};
    if (kind <= 0 || !render(&o, kind, system, user))
        return TF_ERR_UNSUPPORTED;
    if (o.overflow) return TF_ERR_NOMEM;
    if (n_out) *n_out = o.n;
    if (o.n > o.cap) {
        if (o.cap > 0) buf[0] = '\0';
        return TF_ERR_BUFFER;
    }
    if (o.n < o.cap) buf[o.n] = '\0';
    return TF_OK;
}

tf_status tf_chat_format(const tf_model *m, const char *system,
                         const char *user, char *buf, size_t cap,
                         size_t *n_out)
{
    if (!m || !user || (!buf && cap > 0)) {
        tf_set_last_error("tf_chat_format: %s",
                          !m ? "model is NULL" : !user ? "user is NULL"
                                                       : "buf is NULL");
        return TF_ERR_INVALID_ARG;
    }
    size_t len = 0;
    const char *tmpl = tf_model_chat_template(m, &len);
    if (!tmpl || len == 0) {
        tf_set_last_error("tf_chat_format: the model has no chat template "
                          "(tokenizer.chat_template)");
        return TF_ERR_UNSUPPORTED;
    }
    int kind = tf_chat_detect(tmpl, len);
    if (kind == TF_CHAT_UNKNOWN) {
        tf_set_last_error("tf_chat_format: unrecognised chat template "
                          "(supported: " SUPPORTED_LIST ")");
        return TF_ERR_UNSUPPORTED;
    }
    if (kind < 0) {
        tf_set_last_error("tf_chat_format: the %s chat template is not "
                          "supported (supported: " SUPPORTED_LIST ")",
                          tf_chat_kind_name(kind));
        return TF_ERR_UNSUPPORTED;
    }
    size_t need = 0;
    tf_status st = tf_chat_render(kind, system, user, buf, cap, &need);
    if (n_out) *n_out = need;
    if (st == TF_ERR_BUFFER)
        tf_set_last_error("tf_chat_format: buffer too small (%zu bytes "
                          "needed, %zu given)", need, cap);
    else if (st == TF_ERR_NOMEM)
        tf_set_last_error("tf_chat_format: prompt too long");
    return st;
}
