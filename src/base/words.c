/* words.c: shell-like word splitting and shell quoting (see base.h for the rules).
 *
 * Hooks split their command template into words first and substitute placeholders inside
 * each word afterwards; that order is what makes a hostile value harmless: whatever it
 * contains, it stays inside the one argv element it was substituted into. */
#include "printbridge/base.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push_word(struct words *w, struct strbuf *b)
{
    char **v = realloc(w->v, (w->n + 2) * sizeof *v);
    if (!v)
        return -ENOMEM;
    w->v = v;
    char *word = strbuf_take(b);
    if (!word)
        return -ENOMEM;
    w->v[w->n++] = word;
    w->v[w->n] = NULL;
    return 0;
}

void words_free(struct words *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    w->v = NULL;
    w->n = 0;
}

static void shell_syntax(char *err, size_t errsz, const char *what, size_t pos)
{
    snprintf(err, errsz, "%s at character %zu needs a shell; quote it, or set shell = true "
                         "(placeholder values are then shell-quoted)", what, pos + 1);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int words_split(const char *line, const char *home, struct words *out, char *err, size_t errsz)
{
    struct strbuf b = { .max = SIZE_MAX };
    bool in_word = false;
    const char *p = line;

    out->v = NULL;
    out->n = 0;
    if (err && errsz)
        err[0] = '\0';
    while (*p) {
        char c = *p;
        size_t pos = (size_t)(p - line);
        if (is_blank(c)) {
            if (in_word && push_word(out, &b) < 0)
                goto oom;
            in_word = false;
            p++;
            continue;
        }
        if (!in_word && c == '~' && (p[1] == '\0' || p[1] == '/' || is_blank(p[1])) && home && *home) {
            if (strbuf_put(&b, home, strlen(home)) < 0)
                goto oom;
            in_word = true;
            p++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end) {
                snprintf(err, errsz, "unterminated ' quote starting at character %zu", pos + 1);
                goto fail;
            }
            if (strbuf_put(&b, p + 1, (size_t)(end - p - 1)) < 0)
                goto oom;
            p = end + 1;
        } else if (c == '"') {
            for (p++;; p++) {
                if (*p == '\0') {
                    snprintf(err, errsz, "unterminated \" quote starting at character %zu", pos + 1);
                    goto fail;
                }
                if (*p == '"')
                    break;
                if (*p == '$' || *p == '`') {
                    shell_syntax(err, errsz, *p == '$' ? "'$' inside \"...\"" : "'`' inside \"...\"",
                                 (size_t)(p - line));
                    goto fail;
                }
                if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
                    p++;
                    if (*p == '\n')
                        continue; /* line continuation */
                }
                if (strbuf_putc(&b, *p) < 0)
                    goto oom;
            }
            p++;
        } else if (c == '\\') {
            if (p[1] == '\0') {
                snprintf(err, errsz, "trailing backslash at character %zu", pos + 1);
                goto fail;
            }
            if (p[1] != '\n' && strbuf_putc(&b, p[1]) < 0)
                goto oom;
            p += 2;
        } else if (strchr("|&;<>()$`", c)) {
            char what[32];
            snprintf(what, sizeof what, "'%c'", c);
            shell_syntax(err, errsz, what, pos);
            goto fail;
        } else {
            if (strbuf_putc(&b, c) < 0)
                goto oom;
            p++;
        }
    }
    if (in_word && push_word(out, &b) < 0)
        goto oom;
    if (out->n == 0) {
        snprintf(err, errsz, "the command is empty");
        goto fail;
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory splitting the command");
    strbuf_free(&b);
    return -ENOMEM;
fail:
    strbuf_free(&b);
    return -EINVAL;
}

char *words_shell_quote(const char *s)
{
    struct strbuf b = { .max = SIZE_MAX };
    strbuf_putc(&b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            strbuf_puts(&b, "'\\''");
        else
            strbuf_putc(&b, *p);
    }
    strbuf_putc(&b, '\'');
    return strbuf_take(&b);
}
