/* fuzz_chat.c - libFuzzer target: chat-template recognition and rendering.
 *
 * The input is split at the first two 0x1f bytes into template, system
 * text and user text.  tf_chat_detect must classify any template (it is
 * never executed) into a kind with a name; then the detected kind and every
 * renderable kind render the system/user pair (as C strings: they end at
 * their first NUL) through chat.h's size-query convention: the query, a
 * buffer with room for the NUL, one of exactly the text's length and one a
 * byte short must agree; the text is NUL-terminated when there is room and
 * contains the user text (trimmed kinds: its trimmed core).  Bad kinds and
 * arguments must be refused.
 */
#include "fuzz_common.h"
#include "chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fc_part(const uint8_t *p, size_t n)
{
    char *z = malloc(n + 1);
    FZ_CHECK(z != NULL);
    if (n) memcpy(z, p, n);
    z[n] = 0;
    return z;
}

/* The user text without leading/trailing ASCII whitespace. */
static const char *fc_trim(const char *s, size_t *n)
{
    size_t len = strlen(s);
    while (len && strchr(" \t\n\r\v\f", s[0])) s++, len--;
    while (len && strchr(" \t\n\r\v\f", s[len - 1])) len--;
    *n = len;
    return s;
}

static bool fc_contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0) return true;
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp(hay + i, needle, nn) == 0) return true;
    return false;
}

static void fc_render(int kind, const char *sys, const char *user)
{
    size_t need = 0, n = 0;
    tf_status st = tf_chat_render(kind, sys, user, NULL, 0, &need);
    if (kind <= 0 || kind > TF_CHAT_PHI3) {
        FZ_CHECK(st == TF_ERR_UNSUPPORTED);
        return;
    }
    FZ_CHECK(st == TF_ERR_BUFFER || (st == TF_OK && need == 0));
    char *buf = malloc(need + 1);
    FZ_CHECK(buf != NULL);
    FZ_CHECK(tf_chat_render(kind, sys, user, buf, need + 1, &n) == TF_OK);
    FZ_CHECK(n == need && buf[n] == 0 && strlen(buf) <= n);
    size_t un;
    const char *core = fc_trim(user, &un);
    FZ_CHECK(fc_contains(buf, n, core, un));
    char *exact = malloc(need ? need : 1); /* room for the text alone is enough */
    FZ_CHECK(exact != NULL);
    FZ_CHECK(tf_chat_render(kind, sys, user, exact, need, &n) == TF_OK);
    FZ_CHECK(n == need && memcmp(exact, buf, need) == 0);
    free(exact);
    if (need) {
        FZ_CHECK(tf_chat_render(kind, sys, user, buf, need - 1, &n) == TF_ERR_BUFFER);
        FZ_CHECK(n == need && (need == 1 || buf[0] == 0));
    }
    FZ_CHECK(tf_chat_render(kind, sys, NULL, buf, need + 1, &n) == TF_ERR_INVALID_ARG);
    FZ_CHECK(tf_chat_render(kind, sys, user, NULL, 5, &n) == TF_ERR_INVALID_ARG);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *s1 = size ? memchr(data, FZ_CHAT_SEP, size) : NULL;
    size_t tl = s1 ? (size_t)(s1 - data) : size;
    const uint8_t *rest = s1 ? s1 + 1 : data + size;
    size_t rn = size - (size_t)(rest - data);
    const uint8_t *s2 = rn ? memchr(rest, FZ_CHAT_SEP, rn) : NULL;
    size_t sl = s2 ? (size_t)(s2 - rest) : rn;
    const uint8_t *up = s2 ? s2 + 1 : rest + rn;
    size_t ul = size - (size_t)(up - data);

    int kind = tf_chat_detect((const char *)data, tl);
    FZ_CHECK(kind >= TF_CHAT_X_GLM4 && kind <= TF_CHAT_PHI3);
    const char *name = tf_chat_kind_name(kind);
    FZ_CHECK(name != NULL && name[0] != 0);
    char *tmpl = fc_part(data, tl);
    FZ_CHECK(tf_chat_detect(tmpl, tl) == kind); /* same bytes, same kind */
    free(tmpl);

    char *sys = fc_part(rest, sl), *user = fc_part(up, ul);
    fc_render(kind, sys, user);
    for (int k = TF_CHAT_CHATML; k <= TF_CHAT_PHI3; k++) {
        fc_render(k, (size & 1) ? NULL : sys, user);
        fc_render(k, "", user);
    }
    fc_render(0, sys, user);
    fc_render(-3, sys, user);
    fc_render(1000, sys, user);
    free(sys);
    free(user);
    return 0;
}
