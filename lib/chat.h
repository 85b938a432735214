/* chat.h - chat-template recognition and rendering (lib/chat.c), pure
 * functions behind tf_chat_format, testable without a model.
 *
 * Templates are recognised by marker strings, never executed, with the
 * same markers and precedence as llama.cpp's built-in template detection;
 * the rendered text is what its built-in formatter gives for one optional
 * system message and one user message with the assistant turn opened.
 * No BOS text: the tokenizer adds BOS where the model asks for it.
 */
#ifndef TF_CHAT_H
#define TF_CHAT_H

#include <stddef.h>
#include "tinfer.h"

typedef enum tf_chat_kind {
    TF_CHAT_UNKNOWN = 0,
    TF_CHAT_CHATML = 1,           /* <|im_start|> */
    TF_CHAT_LLAMA2 = 2,           /* [INST] without <<SYS>>: the system text
                                     goes first in [INST], then "\n" */
    TF_CHAT_LLAMA2_SYS = 3,       /* [INST] with a <<SYS>> block */
    TF_CHAT_LLAMA2_SYS_STRIP = 4, /* same, messages trimmed
                                     (template has content.strip()) */
    TF_CHAT_LLAMA3 = 5,           /* <|start_header_id|> */
    TF_CHAT_GEMMA = 6,            /* <start_of_turn>; no system role */
    TF_CHAT_PHI3 = 7,             /* <|assistant|> ... <|end|> */

    /* Negative: a family the reference engine recognises before (or
     * instead of) ours, which tinfer doesn't render. */
    TF_CHAT_X_PHI4 = -1,          /* <|im_start|> with <|im_sep|> */
    TF_CHAT_X_MISTRAL = -2,       /* [INST] with [SYSTEM_PROMPT],
                                     [AVAILABLE_TOOLS] or ' [INST] ' +
                                     system_message */
    TF_CHAT_X_FALCON3 = -3,       /* <|assistant|> with <|user|> (Falcon 3,
                                     GLM-Edge) */
    TF_CHAT_X_ZEPHYR = -4,        /* <|user|> with <|endoftext|> */
    TF_CHAT_X_MONARCH = -5,       /* bos_token + message['role'] */
    TF_CHAT_X_ORION = -6,
    TF_CHAT_X_OPENCHAT = -7,      /* GPT4 Correct */
    TF_CHAT_X_VICUNA = -8,        /* USER: / ASSISTANT: */
    TF_CHAT_X_DEEPSEEK = -9,      /* ### Instruction: with <|EOT|> */
    TF_CHAT_X_COMMAND_R = -10,    /* <|START_OF_TURN_TOKEN|> */
    TF_CHAT_X_SMOLVLM = -11,      /* <|im_start|> with <end_of_utterance> */
    TF_CHAT_X_GLM4 = -12          /* [gMASK]<sop> */
} tf_chat_kind;

/* Family of a template (len bytes, need not be NUL-terminated; tmpl may be
 * NULL when len is 0).  A template that is exactly a built-in name
 * ("chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip",
 * "llama3", "gemma", "phi3") selects that format.  Returns a tf_chat_kind:
 * > 0 renderable, < 0 a known family tinfer doesn't render, 0 unknown. */
int tf_chat_detect(const char *tmpl, size_t len);

/* Readable name of a kind ("ChatML", "Phi-4", "unknown"). */
const char *tf_chat_kind_name(int kind);

/* Render the prompt for kind (> 0).  system may be NULL or "" for none.
 * Size-query convention: *n_out (may be NULL) = length of the text without
 * its NUL; TF_ERR_BUFFER when cap < length (buf then holds "" if cap > 0);
 * a NUL follows the text when cap > length.  TF_ERR_UNSUPPORTED for a
 * kind <= 0 or unknown, TF_ERR_INVALID_ARG for a NULL user or a NULL buf
 * with cap > 0. */
tf_status tf_chat_render(int kind, const char *system, const char *user,
                         char *buf, size_t cap, size_t *n_out);

#endif
