/* api_tokenize.c - the public tokenizer calls (tinfer.h) over lib/tokenizer. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "unicode.h"

#define TF_TOKENIZE_ALL_FLAGS \
    (TF_TOKENIZE_NO_BOS | TF_TOKENIZE_ADD_BOS | TF_TOKENIZE_SPECIAL)

static const tf_tokenizer *tok_of(const tf_model *m, const char *fn)
{
    const tf_tokenizer *t = m ? tf_model_tokenizer(m) : NULL;
    if (!t)
        tf_set_last_error("%s: NULL model", fn);
    return t;
}

tf_status tf_tokenize(const tf_model *m, const char *text, size_t len,
                      int flags, tf_token *out, size_t cap, size_t *n_out)
{
    const tf_tokenizer *t = tok_of(m, "tf_tokenize");
    if (!t)
        return TF_ERR_INVALID_ARG;
    if (!n_out || (!text && len) || (flags & ~TF_TOKENIZE_ALL_FLAGS) ||
        ((flags & TF_TOKENIZE_NO_BOS) && (flags & TF_TOKENIZE_ADD_BOS))) {
        tf_set_last_error("tf_tokenize: %s", !n_out ? "NULL n_out"
                          : (!text && len) ? "NULL text"
                          : "invalid flags");
        return TF_ERR_INVALID_ARG;
    }
    *n_out = 0;
    if (len > TF_TOKENIZE_MAX_BYTES) {
        tf_set_last_error("tf_tokenize: text of %zu bytes exceeds the %u MiB limit",
                          len, TF_TOKENIZE_MAX_BYTES >> 20);
        return TF_ERR_INVALID_ARG;
    }
    bool bos = (flags & TF_TOKENIZE_ADD_BOS) ? true
             : (flags & TF_TOKENIZE_NO_BOS) ? false
             : tf_tokenizer_add_bos(t);
    if (bos && tf_tokenizer_bos(t) < 0) {
        tf_set_last_error("tf_tokenize: the model has no BOS token");
        return TF_ERR_INVALID_ARG;
    }
    int rc = tf_tokenizer_encode(t, text ? text : "", len, bos,
                                 tf_tokenizer_add_eos(t),
                                 (flags & TF_TOKENIZE_SPECIAL) != 0, out, cap,
                                 n_out);
    if (rc == 1)
        return TF_ERR_BUFFER;
    if (rc < 0) {
        tf_set_last_error("tf_tokenize: out of memory");
        return TF_ERR_NOMEM;
    }
    return TF_OK;
}

/* One token inspected on its own shows special tokens too: a piece that
 * printed "" for <|im_end|> would hide what the model produced. */
tf_status tf_token_to_piece(const tf_model *m, tf_token tok, char *buf,
                            size_t cap, size_t *n_out)
{
    const tf_tokenizer *t = tok_of(m, "tf_token_to_piece");
    if (!t)
        return TF_ERR_INVALID_ARG;
    if (!n_out) {
        tf_set_last_error("tf_token_to_piece: NULL n_out");
        return TF_ERR_INVALID_ARG;
    }
    int rc = tf_tokenizer_piece(t, tok, true, buf, cap, n_out);
    if (rc < 0) {
        tf_set_last_error("tf_token_to_piece: token %d out of range [0, %d)",
                          tok, tf_tokenizer_n_vocab(t));
        return TF_ERR_INVALID_ARG;
    }
    return rc ? TF_ERR_BUFFER : TF_OK;
}

tf_status tf_detokenize(const tf_model *m, const tf_token *toks, size_t n,
                        int flags, char *buf, size_t cap, size_t *n_out)
{
    const tf_tokenizer *t = tok_of(m, "tf_detokenize");
    if (!t)
        return TF_ERR_INVALID_ARG;
    if (!n_out || (!toks && n)) {
        tf_set_last_error("tf_detokenize: NULL %s", !n_out ? "n_out" : "tokens");
        return TF_ERR_INVALID_ARG;
    }
    int rc = tf_tokenizer_decode(t, toks, n, (flags & TF_TOKENIZE_SPECIAL) != 0,
                                 buf, cap, n_out);
    if (rc == -2) {
        tf_set_last_error("tf_detokenize: out of memory");
        return TF_ERR_NOMEM;
    }
    if (rc < 0) {
        tf_set_last_error("tf_detokenize: a token is out of range [0, %d)",
                          tf_tokenizer_n_vocab(t));
        return TF_ERR_INVALID_ARG;
    }
    return rc ? TF_ERR_BUFFER : TF_OK;
}

/* Pending bytes only ever come from byte tokens (other pieces are whole
 * characters), so after a byte token everything here was spelled in bytes:
 * a "▁" among them is a SentencePiece space, as tf_detokenize prints it. */
static size_t byte_spaces(unsigned char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            s[o++] = ' ';
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

tf_status tf_detok_stream_push(const tf_model *m, tf_detok_stream *s,
                               tf_token tok, char *buf, size_t cap,
                               size_t *n_out)
{
    const tf_tokenizer *t = tok_of(m, "tf_detok_stream_push");
    if (!t)
        return TF_ERR_INVALID_ARG;
    if (!s || !n_out || s->n_pend > sizeof s->pend) {
        tf_set_last_error("tf_detok_stream_push: %s",
                          !s ? "NULL stream" : !n_out ? "NULL n_out"
                                             : "corrupt stream state");
        return TF_ERR_INVALID_ARG;
    }
    *n_out = 0;
    size_t plen = 0;
    if (tok >= 0 && tf_tokenizer_piece(t, tok, false, NULL, 0, &plen) < 0) {
        tf_set_last_error("tf_detok_stream_push: token %d out of range", tok);
        return TF_ERR_INVALID_ARG;
    }
    /* pending bytes + this piece, then hold back an unfinished sequence */
    size_t total = s->n_pend + plen;
    size_t all_bytes = total;
    unsigned char small[256], *all = total <= sizeof small ? small : malloc(total);
    if (!all) {
        tf_set_last_error("tf_detok_stream_push: out of memory");
        return TF_ERR_NOMEM;
    }
    memcpy(all, s->pend, s->n_pend);
    size_t got = 0;
    if (plen)
        tf_tokenizer_piece(t, tok, false, (char *)all + s->n_pend, plen, &got);
    if (tf_tokenizer_is_byte(t, tok) && !strcmp(tf_tokenizer_model(t), "llama"))
        total = byte_spaces(all, total);
    size_t hold = tok < 0 ? 0 : tf_utf8_incomplete_tail(all, total);
    size_t emit = total - hold;
    tf_status st = TF_OK;
    *n_out = emit;
    if (emit > cap || (emit && !buf)) {
        st = TF_ERR_BUFFER; /* state untouched: the caller retries */
    } else {
        if (emit)
            memcpy(buf, all, emit);
        memcpy(s->pend, all + emit, hold);
        s->n_pend = hold;
    }
    if (all != small)
        tf_secure_free(all, all_bytes); /* text of the stream */
    else
        tf_secure_zero(small, sizeof small);
    return st;
}

tf_token tf_token_bos(const tf_model *m)
{
    const tf_tokenizer *t = tf_model_tokenizer(m);
    return t ? tf_tokenizer_bos(t) : -1;
}

tf_token tf_token_eos(const tf_model *m)
{
    const tf_tokenizer *t = tf_model_tokenizer(m);
    return t ? tf_tokenizer_eos(t) : -1;
}

tf_token tf_token_eot(const tf_model *m)
{
    const tf_tokenizer *t = tf_model_tokenizer(m);
    return t ? tf_tokenizer_eot(t) : -1;
}

bool tf_token_is_eog(const tf_model *m, tf_token tok)
{
    const tf_tokenizer *t = tf_model_tokenizer(m);
    return t && tf_tokenizer_is_eog(t, tok);
}

int32_t tf_n_vocab(const tf_model *m)
{
    const tf_tokenizer *t = tf_model_tokenizer(m);
    return t ? tf_tokenizer_n_vocab(t) : 0;
}
