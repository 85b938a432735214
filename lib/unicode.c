/* unicode.c - UTF-8 and character classes on top of utf8proc. */
#include <utf8proc.h>
#include "unicode.h"

static inline bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

uint32_t tf_utf8_decode(const unsigned char *s, size_t len, size_t *adv)
{
    unsigned char b0 = s[0];
    *adv = 1;
    if (b0 < 0x80)
        return b0;
    if (!(b0 & 0x40)) /* stray continuation byte */
        return TF_UC_REPLACEMENT;
    if (!(b0 & 0x20)) {
        if (len < 2 || !is_cont(s[1]))
            return TF_UC_REPLACEMENT;
        *adv = 2;
        return ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (!(b0 & 0x10)) {
        if (len < 3 || !is_cont(s[1]) || !is_cont(s[2]))
            return TF_UC_REPLACEMENT;
        *adv = 3;
        return ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
               (s[2] & 0x3F);
    }
    if (!(b0 & 0x08)) {
        if (len < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3]))
            return TF_UC_REPLACEMENT;
        uint32_t cp = ((uint32_t)(b0 & 0x07) << 18) |
                      ((uint32_t)(s[1] & 0x3F) << 12) |
                      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        /* F4 90.. - F7: beyond Unicode; the reference engine would throw
         * re-encoding these, so treat them as invalid bytes instead. */
        if (cp > 0x10FFFF)
            return TF_UC_REPLACEMENT;
        *adv = 4;
        return cp;
    }
    return TF_UC_REPLACEMENT;
}

size_t tf_utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | ((cp >> 18) & 0x07));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t tf_utf8_incomplete_tail(const unsigned char *s, size_t n)
{
    for (size_t i = 1; i <= 3 && i <= n; i++) {
        unsigned char b = s[n - i];
        if (is_cont(b))
            continue;
        size_t need = b >= 0xF0 ? (b < 0xF8 ? 4 : 0)
                    : b >= 0xE0 ? 3
                    : b >= 0xC0 ? 2 : 0;
        return need > i ? i : 0;
    }
    return 0;
}

/* ASCII classes.  '~' gets no P/S bit: the reference engine's regex
 * tables list it under neither (it is Sm in Unicode). */
static unsigned ascii_flags(uint32_t c)
{
    if ((c >= 9 && c <= 13) || c == ' ')
        return TF_UC_WS;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return TF_UC_L;
    if (c >= '0' && c <= '9')
        return TF_UC_N;
    switch (c) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '`':
    case '|':
        return TF_UC_S;
    case '!': case '"': case '#': case '%': case '&': case '\'': case '(':
    case ')': case '*': case ',': case '-': case '.': case '/': case ':':
    case ';': case '?': case '@': case '[': case '\\': case ']': case '_':
    case '{': case '}':
        return TF_UC_P;
    default:
        return TF_UC_OTHER;
    }
}

unsigned tf_uc_flags(uint32_t cp)
{
    if (cp < 0x80)
        return ascii_flags(cp);
    if (cp > 0x10FFFF)
        return TF_UC_OTHER;
    if (cp == 0x85) /* NEL: Cc, yet White_Space */
        return TF_UC_WS;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return TF_UC_L;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return TF_UC_M;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return TF_UC_N;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return TF_UC_P;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
        return TF_UC_S;
    /* Every Zs/Zl/Zp code point has the White_Space property. */
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return TF_UC_WS;
    default:
        return TF_UC_OTHER;
    }
}

const char *tf_uc_version(void) { return utf8proc_unicode_version(); }

/* GPT-2's map keeps printable Latin-1 bytes as themselves and gives the
 * other 68 bytes (0x00-0x20, 0x7F-0xA0, 0xAD), in byte order, the code
 * points 256, 257, ...  Written as arithmetic so no table needs building. */
uint32_t tf_bytemap_cp(uint8_t b)
{
    if (b <= 0x20)
        return 256u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 256u + 33u + (uint32_t)(b - 0x7F);
    if (b == 0xAD)
        return 256u + 67u;
    return b;
}

int tf_bytemap_byte(uint32_t cp)
{
    if (cp < 256) {
        if (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD)
            return -1;
        return (int)cp;
    }
    if (cp < 256 + 33)
        return (int)(cp - 256);
    if (cp < 256 + 67)
        return (int)(0x7F + (cp - 256 - 33));
    if (cp == 256 + 67)
        return 0xAD;
    return -1;
}
