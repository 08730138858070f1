/* suggest.c: "did you mean" for a mistyped key or group name (suggest.h). Candidates come from
 * the key table, so a new key is suggested without more code; closeness is the optimal string
 * alignment distance, case-insensitive, so a swapped pair ("hots") is one typo. */
#include "suggest.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "printbridge/base.h"

/* Longer names are never typos of ours; skipping them bounds the edit-distance rows. */
#define SUGGEST_MAX_NAME 64

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t r0[SUGGEST_MAX_NAME + 1], r1[SUGGEST_MAX_NAME + 1], r2[SUGGEST_MAX_NAME + 1];
    size_t *pp = r0, *p = r1, *c = r2;

    if (la > SUGGEST_MAX_NAME || lb > SUGGEST_MAX_NAME)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            size_t cost = ai != bj;
            size_t best = p[j - 1] + cost;
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

/* Two typos in a three-letter word leave nothing of it ("foo" is not "log"). */
static size_t max_typo(const char *name) { return strlen(name) < 4 ? 1 : 2; }

static void append(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *out, size_t outsz, const char *fmt, ...)
{
    size_t len = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + len, outsz - len, fmt, ap);
    va_end(ap);
}

/* The separator before candidate i of n: "a", "a or b", "a, b or c". */
static const char *separator(size_t i, size_t n) { return i == 0 ? "" : i + 1 == n ? " or " : ", "; }

/* Pass 0 looks in the key's own group (everywhere, at the top level); pass 1 elsewhere. */
static bool eligible(const struct key *k, const char *group, int pass)
{
    if (!group)
        return true;
    return (strcmp(k->group, group) == 0) == (pass == 0);
}

/* The smallest distance to an eligible key, if at most limit; else SIZE_MAX. */
static size_t closest_key(const char *group, const char *name, int pass, size_t limit)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < keys_count; i++) {
        if (!eligible(&keys_table[i], group, pass))
            continue;
        size_t d = edit_distance(name, keys_table[i].name);
        if (d <= limit && d < best)
            best = d;
    }
    return best;
}

static bool key_at(size_t i, const char *group, const char *name, int pass, size_t dist)
{
    return eligible(&keys_table[i], group, pass) && edit_distance(name, keys_table[i].name) == dist;
}

void suggest_key(char *out, size_t outsz, const char *group, const char *name)
{
    out[0] = '\0';
    for (int pass = 0; pass < (group ? 2 : 1); pass++) {
        size_t dist = closest_key(group, name, pass, pass == 0 ? max_typo(name) : 1);
        size_t n = 0, shown = 0;
        if (dist == SIZE_MAX)
            continue;
        for (size_t i = 0; i < keys_count; i++)
            n += key_at(i, group, name, pass, dist);
        append(out, outsz, "; did you mean ");
        for (size_t i = 0; i < keys_count; i++)
            if (key_at(i, group, name, pass, dist))
                append(out, outsz, "%s'%s.%s'", separator(shown++, n), keys_table[i].group,
                       keys_table[i].name);
        append(out, outsz, "?");
        return;
    }
}

void suggest_group(char *out, size_t outsz, const char *name)
{
    size_t dist = SIZE_MAX, n = 0, shown = 0;

    out[0] = '\0';
    for (size_t i = 0; i < keys_ngroups; i++) {
        size_t d = edit_distance(name, keys_groups[i].name);
        if (d <= max_typo(name) && d < dist)
            dist = d;
    }
    if (dist == SIZE_MAX) {
        append(out, outsz, "; the groups are ");
        for (size_t i = 0; i < keys_ngroups; i++)
            append(out, outsz, "%s%s", i == 0 ? "" : i + 1 == keys_ngroups ? " and " : ", ",
                   keys_groups[i].name);
        return;
    }
    for (size_t i = 0; i < keys_ngroups; i++)
        n += edit_distance(name, keys_groups[i].name) == dist;
    append(out, outsz, "; did you mean ");
    for (size_t i = 0; i < keys_ngroups; i++)
        if (edit_distance(name, keys_groups[i].name) == dist)
            append(out, outsz, "%s'%s'", separator(shown++, n), keys_groups[i].name);
    append(out, outsz, "?");
}

void suggest_event(char *out, size_t outsz, const char *name)
{
    size_t dist = SIZE_MAX, n = 0, shown = 0;
    const char *e;

    out[0] = '\0';
    for (size_t i = 0; (e = events_name(i)); i++) {
        size_t d = edit_distance(name, e);
        if (d <= max_typo(name) && d < dist)
            dist = d;
    }
    if (dist == SIZE_MAX) {
        append(out, outsz, "; the events are listed in docs/wire-format.md section 5");
        return;
    }
    for (size_t i = 0; (e = events_name(i)); i++)
        n += edit_distance(name, e) == dist;
    append(out, outsz, "; did you mean ");
    for (size_t i = 0; (e = events_name(i)); i++)
        if (edit_distance(name, e) == dist)
            append(out, outsz, "%s'%s'", separator(shown++, n), e);
    append(out, outsz, "?");
}
