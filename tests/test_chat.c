/* test_chat.c - chat-template recognition and rendering (lib/chat.c)
 * against the text llama.cpp's built-in formatter produces. */
#include "testutil.h"
#include "tinfer.h"
#include "chat.h"

/* Short versions of the templates the models ship (Jinja source as it sits
 * in tokenizer.chat_template: "\\n" is a Jinja escape, not a newline). */
static const char T_CHATML[] = /* Qwen2 */
    "{% for message in messages %}{% if loop.first and messages[0]['role'] "
    "!= 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant."
    "<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' "
    "+ message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

static const char T_LLAMA3[] = /* Meta-Llama-3-8B-Instruct */
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

static const char T_LLAMA2_STRIP[] = /* Llama-2-7b-chat-hf */
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = "
    "messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = "
    "false %}{% endif %}{% for message in loop_messages %}{% if "
    "(message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/"
    "user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and "
    "system_message != false %}{% set content = '<<SYS>>\\n' + "
    "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}"
    "{% set content = message['content'] %}{% endif %}{% if message['role'] "
    "== 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + "
    "' ' + eos_token }}{% endif %}{% endfor %}";

static const char T_LLAMA2_SYS[] = /* <<SYS>> without strip */
    "{% if messages[0]['role'] == 'system' %}{% set system_message = "
    "'<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}"
    "{% set loop_messages = messages[1:] %}{% else %}{% set system_message "
    "= '' %}{% set loop_messages = messages %}{% endif %}{% for message in "
    "loop_messages %}{% if message['role'] == 'user' %}{{ bos_token + "
    "'[INST] ' + system_message + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + "
    "eos_token }}{% endif %}{% endfor %}";

static const char T_MISTRAL_V01[] = /* Mistral-7B-Instruct-v0.1: plain */
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == "
    "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation "
    "roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + "
    "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception("
    "'Only user and assistant roles are supported!') }}{% endif %}"
    "{% endfor %}";

static const char T_GEMMA[] = /* gemma-2b-it */
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ "
    "raise_exception('System role not supported') }}{% endif %}{% for "
    "message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must "
    "alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}"
    "{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role "
    "+ '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

static const char T_PHI3[] = /* Phi-3-mini-4k-instruct */
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif "
    "message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{"
    "'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}"
    "{% else %}{{ eos_token }}{% endif %}";

static const char T_PHI4[] =
    "{% for message in messages %}{% if (message['role'] == 'system') %}"
    "{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}"
    "{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + "
    "message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant<|im_sep|>'}}"
    "{% endif %}";

static const char T_MISTRAL_V7[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == "
    "'system' %}{{ '[SYSTEM_PROMPT]' + message['content'] + "
    "'[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'user' %}{{ '[INST]' + "
    "message['content'] + '[/INST]' }}{% endif %}{% endfor %}";

static const char T_ZEPHYR[] =
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '<|user|>\n' + message['content'] + '<|endoftext|>' }}{% endif %}"
    "{% endfor %}";

static const char T_PLAIN[] =
    "{% for message in messages %}{{ message['role'] + ': ' + "
    "message['content'] + '\n' }}{% endfor %}";

static int detect(const char *t)
{
    return tf_chat_detect(t, strlen(t));
}

static void test_detect(void **st)
{
    (void)st;
    assert_int_equal(detect(T_CHATML), TF_CHAT_CHATML);
    assert_int_equal(detect(T_LLAMA3), TF_CHAT_LLAMA3);
    assert_int_equal(detect(T_LLAMA2_STRIP), TF_CHAT_LLAMA2_SYS_STRIP);
    assert_int_equal(detect(T_LLAMA2_SYS), TF_CHAT_LLAMA2_SYS);
    assert_int_equal(detect(T_MISTRAL_V01), TF_CHAT_LLAMA2);
    assert_int_equal(detect(T_GEMMA), TF_CHAT_GEMMA);
    assert_int_equal(detect(T_PHI3), TF_CHAT_PHI3);
    /* known families tinfer doesn't render */
    assert_int_equal(detect(T_PHI4), TF_CHAT_X_PHI4);
    assert_int_equal(detect(T_MISTRAL_V7), TF_CHAT_X_MISTRAL);
    assert_int_equal(detect(T_ZEPHYR), TF_CHAT_X_ZEPHYR);
    assert_int_equal(detect("<|im_start|>User:<end_of_utterance>"),
                     TF_CHAT_X_SMOLVLM);
    assert_int_equal(detect("{{ '<|im_start|>' }}{{ ' [INST] ' }}"),
                     TF_CHAT_CHATML); /* ChatML wins over [INST] */
    assert_int_equal(detect("[INST] <start_of_turn>"), TF_CHAT_LLAMA2);
    assert_int_equal(detect("<start_of_turn><|start_header_id|>"
                            "<|end_header_id|>"), TF_CHAT_GEMMA);
    /* unknown */
    assert_int_equal(detect(T_PLAIN), TF_CHAT_UNKNOWN);
    assert_int_equal(tf_chat_detect(NULL, 0), TF_CHAT_UNKNOWN);
    assert_int_equal(tf_chat_detect("", 0), TF_CHAT_UNKNOWN);
    /* built-in names */
    assert_int_equal(detect("chatml"), TF_CHAT_CHATML);
    assert_int_equal(detect("llama2"), TF_CHAT_LLAMA2);
    assert_int_equal(detect("llama2-sys-bos"), TF_CHAT_LLAMA2_SYS);
    assert_int_equal(detect("llama2-sys-strip"), TF_CHAT_LLAMA2_SYS_STRIP);
    assert_int_equal(detect("llama3"), TF_CHAT_LLAMA3);
    assert_int_equal(detect("gemma"), TF_CHAT_GEMMA);
    assert_int_equal(detect("phi3"), TF_CHAT_PHI3);
    /* only <|end_header_id|> with <|start_header_id|> is Llama 3 */
    assert_int_equal(detect("<|start_header_id|>"), TF_CHAT_UNKNOWN);
    /* <|assistant|> without <|end|> is not Phi-3 */
    assert_int_equal(detect("<|assistant|>"), TF_CHAT_UNKNOWN);
    /* len is respected: the marker past len doesn't count */
    assert_int_equal(tf_chat_detect("xx<|im_start|>", 13), TF_CHAT_UNKNOWN);
    assert_int_equal(tf_chat_detect("xx<|im_start|>", 14), TF_CHAT_CHATML);
    assert_string_equal(tf_chat_kind_name(TF_CHAT_X_PHI4), "Phi-4");
    assert_string_equal(tf_chat_kind_name(12345), "unknown");
}

/* Render with a buffer of exactly the right size plus one and compare. */
static void expect_render(int kind, const char *sys, const char *user,
                          const char *want)
{
    char buf[1024];
    size_t n = 0;
    memset(buf, 'x', sizeof buf);
    assert_int_equal(tf_chat_render(kind, sys, user, buf, sizeof buf, &n),
                     TF_OK);
    if (strcmp(buf, want) != 0)
        fprintf(stderr, "kind %d:\n got: [%s]\nwant: [%s]\n", kind, buf, want);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static const char SYS[] = "You are terse.";
static const char USR[] = "Hello!";

static void test_chatml(void **st)
{
    (void)st;
    expect_render(TF_CHAT_CHATML, NULL, USR,
                  "<|im_start|>user\nHello!<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(TF_CHAT_CHATML, SYS, USR,
                  "<|im_start|>system\nYou are terse.<|im_end|>\n"
                  "<|im_start|>user\nHello!<|im_end|>\n"
                  "<|im_start|>assistant\n");
    /* no trimming; "" system is no system */
    expect_render(TF_CHAT_CHATML, "", " hi \n",
                  "<|im_start|>user\n hi \n<|im_end|>\n"
                  "<|im_start|>assistant\n");
}

static void test_llama3(void **st)
{
    (void)st;
    expect_render(TF_CHAT_LLAMA3, NULL, USR,
                  "<|start_header_id|>user<|end_header_id|>\n\nHello!"
                  "<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                  "\n\n");
    expect_render(TF_CHAT_LLAMA3, SYS, USR,
                  "<|start_header_id|>system<|end_header_id|>\n\n"
                  "You are terse.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHello!"
                  "<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
                  "\n\n");
    /* messages are trimmed */
    expect_render(TF_CHAT_LLAMA3, "\t sys \n", "\n hi there \r\n",
                  "<|start_header_id|>system<|end_header_id|>\n\nsys"
                  "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                  "hi there<|eot_id|><|start_header_id|>assistant"
                  "<|end_header_id|>\n\n");
}

static void test_llama2(void **st)
{
    (void)st;
    /* <<SYS>> variants */
    expect_render(TF_CHAT_LLAMA2_SYS, NULL, USR, "[INST] Hello! [/INST]");
    expect_render(TF_CHAT_LLAMA2_SYS, SYS, USR,
                  "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello! [/INST]");
    expect_render(TF_CHAT_LLAMA2_SYS, " s ", " u ",
                  "[INST] <<SYS>>\n s \n<</SYS>>\n\n u  [/INST]");
    expect_render(TF_CHAT_LLAMA2_SYS_STRIP, SYS, USR,
                  "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello! [/INST]");
    expect_render(TF_CHAT_LLAMA2_SYS_STRIP, " s ", " u\n",
                  "[INST] <<SYS>>\ns\n<</SYS>>\n\nu [/INST]");
    /* no system role: the text leads the instruction */
    expect_render(TF_CHAT_LLAMA2, NULL, USR, "[INST] Hello! [/INST]");
    expect_render(TF_CHAT_LLAMA2, SYS, USR,
                  "[INST] You are terse.\nHello! [/INST]");
}

static void test_gemma(void **st)
{
    (void)st;
    expect_render(TF_CHAT_GEMMA, NULL, USR,
                  "<start_of_turn>user\nHello!<end_of_turn>\n"
                  "<start_of_turn>model\n");
    expect_render(TF_CHAT_GEMMA, SYS, USR,
                  "<start_of_turn>user\nYou are terse.\n\nHello!"
                  "<end_of_turn>\n<start_of_turn>model\n");
    /* trimmed; a blank system message disappears */
    expect_render(TF_CHAT_GEMMA, " \n ", " hi ",
                  "<start_of_turn>user\nhi<end_of_turn>\n"
                  "<start_of_turn>model\n");
    expect_render(TF_CHAT_GEMMA, " sys\n", "hi\n",
                  "<start_of_turn>user\nsys\n\nhi<end_of_turn>\n"
                  "<start_of_turn>model\n");
}

static void test_phi3(void **st)
{
    (void)st;
    expect_render(TF_CHAT_PHI3, NULL, USR,
                  "<|user|>\nHello!<|end|>\n<|assistant|>\n");
    expect_render(TF_CHAT_PHI3, SYS, USR,
                  "<|system|>\nYou are terse.<|end|>\n"
                  "<|user|>\nHello!<|end|>\n<|assistant|>\n");
}

/* Detect + render, as tf_chat_format does. */
static void test_end_to_end(void **st)
{
    (void)st;
    static const struct { const char *tmpl, *want; } cases[] = {
        {T_CHATML, "<|im_start|>system\nYou are terse.<|im_end|>\n"
                   "<|im_start|>user\nHello!<|im_end|>\n"
                   "<|im_start|>assistant\n"},
        {T_LLAMA3, "<|start_header_id|>system<|end_header_id|>\n\n"
                   "You are terse.<|eot_id|>"
                   "<|start_header_id|>user<|end_header_id|>\n\nHello!"
                   "<|eot_id|><|start_header_id|>assistant"
                   "<|end_header_id|>\n\n"},
        {T_LLAMA2_STRIP, "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\n"
                         "Hello! [/INST]"},
        {T_MISTRAL_V01, "[INST] You are terse.\nHello! [/INST]"},
        {T_GEMMA, "<start_of_turn>user\nYou are terse.\n\nHello!"
                  "<end_of_turn>\n<start_of_turn>model\n"},
        {T_PHI3, "<|system|>\nYou are terse.<|end|>\n"
                 "<|user|>\nHello!<|end|>\n<|assistant|>\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_render(detect(cases[i].tmpl), SYS, USR, cases[i].want);
}

static void test_unsupported(void **st)
{
    (void)st;
    char buf[64];
    size_t n = 77;
    int kinds[] = {TF_CHAT_UNKNOWN, TF_CHAT_X_PHI4, TF_CHAT_X_MISTRAL, 99};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        assert_int_equal(tf_chat_render(kinds[i], NULL, USR, buf, sizeof buf,
                                        &n),
                         TF_ERR_UNSUPPORTED);
    assert_int_equal(tf_chat_render(TF_CHAT_CHATML, NULL, NULL, buf,
                                    sizeof buf, &n),
                     TF_ERR_INVALID_ARG);
    assert_int_equal(tf_chat_render(TF_CHAT_CHATML, NULL, USR, NULL, 5, &n),
                     TF_ERR_INVALID_ARG);
    /* the public entry point checks its arguments first */
    assert_int_equal(tf_chat_format(NULL, NULL, USR, buf, sizeof buf, &n),
                     TF_ERR_INVALID_ARG);
    assert_non_null(strstr(tf_last_error(), "model"));
}

/* Size-query convention. */
static void test_buffer(void **st)
{
    (void)st;
    const char *want = "<|user|>\nHello!<|end|>\n<|assistant|>\n";
    size_t len = strlen(want), n = 0;
    assert_int_equal(tf_chat_render(TF_CHAT_PHI3, NULL, USR, NULL, 0, &n),
                     TF_ERR_BUFFER);
    assert_int_equal(n, len);
    char buf[128];
    memset(buf, 'x', sizeof buf);
    n = 0;
    assert_int_equal(tf_chat_render(TF_CHAT_PHI3, NULL, USR, buf, len - 1, &n),
                     TF_ERR_BUFFER);
    assert_int_equal(n, len);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[len - 1], 'x'); /* nothing past cap */
    /* exactly the length: the text, no room for a NUL */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(tf_chat_render(TF_CHAT_PHI3, NULL, USR, buf, len, &n),
                     TF_OK);
    assert_int_equal(n, len);
    assert_memory_equal(buf, want, len);
    assert_int_equal(buf[len], 'x');
    /* one more: NUL-terminated */
    assert_int_equal(tf_chat_render(TF_CHAT_PHI3, NULL, USR, buf, len + 1, &n),
                     TF_OK);
    assert_string_equal(buf, want);
    /* n_out may be NULL */
    assert_int_equal(tf_chat_render(TF_CHAT_PHI3, NULL, USR, buf, sizeof buf,
                                    NULL),
                     TF_OK);
    assert_int_equal(tf_chat_render(TF_CHAT_PHI3, NULL, USR, NULL, 0, NULL),
                     TF_ERR_BUFFER);
}

/* Random templates spliced from markers and junk: detection never reads
 * past len; rendering every kind agrees with its size query. */
static void test_fuzz(void **st)
{
    (void)st;
    static const char *frag[] = {
        "<|im_start|>", "<|im_sep|>", "[INST]", "<<SYS>>", "content.strip()",
        "<|assistant|>", "<|end|>", "<|user|>", "<|endoftext|>",
        "<start_of_turn>", "<|start_header_id|>", "<|end_header_id|>",
        "USER: ", "ASSISTANT: ", "[SYSTEM_PROMPT]", "mistral", "{{", "}}",
        "<end_of_utterance>", "[gMASK]<sop>", "<|START_OF_TURN_TOKEN|>",
        " ", "\n", "<|", "|>", "[", "]", "llama3", "chatml",
    };
    const size_t nf = sizeof frag / sizeof frag[0];
    uint64_t seed = 2024;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0, k = tu_rand(&seed) % 8;
        char tmp[256];
        for (size_t j = 0; j < k; j++) {
            const char *f = frag[tu_rand(&seed) % nf];
            size_t fl = strlen(f);
            if (tu_rand(&seed) % 4 == 0) fl = tu_rand(&seed) % (fl + 1);
            if (len + fl > sizeof tmp) break;
            memcpy(tmp + len, f, fl);
            len += fl;
        }
        /* exact-size heap copy so ASan catches reads past len */
        char *t = malloc(len ? len : 1);
        assert_non_null(t);
        memcpy(t, tmp, len);
        int kind = tf_chat_detect(t, len);
        assert_true(kind >= TF_CHAT_X_GLM4 && kind <= TF_CHAT_PHI3);
        free(t);

        char user[16], sys[16];
        size_t ul = tu_rand(&seed) % sizeof user, sl = tu_rand(&seed) % sizeof sys;
        for (size_t j = 0; j < ul; j++) user[j] = " \n\tab<|"[tu_rand(&seed) % 7];
        for (size_t j = 0; j < sl; j++) sys[j] = " \n\tcd>]"[tu_rand(&seed) % 7];
        user[ul] = sys[sl] = '\0';
        const char *sp = tu_rand(&seed) % 3 ? sys : NULL;
        for (int kd = TF_CHAT_CHATML; kd <= TF_CHAT_PHI3; kd++) {
            size_t need = 0, got = 0;
            assert_int_equal(tf_chat_render(kd, sp, user, NULL, 0, &need),
                             TF_ERR_BUFFER);
            char *b = malloc(need);
            assert_non_null(b);
            assert_int_equal(tf_chat_render(kd, sp, user, b, need, &got), TF_OK);
            assert_int_equal(got, need);
            free(b);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_chatml),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_gemma),
        cmocka_unit_test(test_phi3),
        cmocka_unit_test(test_end_to_end),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
