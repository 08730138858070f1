/* test_docs.c: the documentation says what the code does, so it cannot drift:
 *   - docs/topics.md's event table lists every event printbridge can publish (the event table
 *     in src/base/events.c), and nothing else;
 *   - docs/commands.md's command table lists every inbound command topic the decoder knows
 *     (the lists its "unknown command" replies give), and nothing it does not know;
 *   - docs/configuration.md's index lists every key of the key table (src/config/keys.c);
 *   - every relative link in README.md and docs/ names a file of the project, and a #section
 *     one of that page's headings;
 *   - no file of the project speaks of its tickets or unfinished versions of itself.
 * The README's walkthrough is run by test/it/test_docs_walkthrough.sh. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/keys.h"
#include "printbridge/base.h"
#include "printbridge/commands.h"

#define MAX_NAMES 512

struct names {
    char *v[MAX_NAMES];
    size_t n;
};

static void names_add(struct names *s, const char *p, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && strncmp(s->v[i], p, len) == 0)
            return;
    ck_assert_uint_lt(s->n, MAX_NAMES);
    s->v[s->n] = strndup(p, len);
    ck_assert_ptr_nonnull(s->v[s->n]);
    s->n++;
}

static bool names_has(const struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static const char *srcdir(void)
{
    const char *d = getenv("PB_SRCDIR");
    return d && *d ? d : ".";
}

/* the whole file, NUL-terminated, or NULL when it cannot be read */
static char *slurp_path(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, n;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            text = realloc(text, cap);
            ck_assert_ptr_nonnull(text);
        }
    }
    fclose(f);
    text[len] = '\0';
    if (lenp)
        *lenp = len;
    return text;
}

static char *slurp_doc(const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", srcdir(), rel);
    char *text = slurp_path(path, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    return text;
}

/* The backquoted words of the first cell of each table row below the heading `section`
 * (up to the next heading), e.g. "| `PowerOn`, `PowerOff` | ..." gives PowerOn and PowerOff. */
static void first_cells(const char *doc, const char *section, struct names *out)
{
    const char *p = strstr(doc, section);
    ck_assert_msg(p != NULL, "no heading \"%s\"", section);
    p += strlen(section) - 1;   /* the heading's own line break */
    while (p && *++p && *p != '#') {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        if (*p == '|' && strncmp(p, "|---", 4) != 0) {
            const char *end = memchr(p + 1, '|', (size_t)(eol - p - 1));
            for (const char *q = p + 1; end && q < end; q++) {
                if (*q != '`')
                    continue;
                const char *close = memchr(q + 1, '`', (size_t)(end - q - 1));
                if (!close)
                    break;
                names_add(out, q + 1, (size_t)(close - q - 1));
                q = close;
            }
        }
        p = *eol ? eol : NULL;
    }
}

START_TEST(test_every_event_is_in_the_event_table_and_only_those)
{
    char *doc = slurp_doc("docs/topics.md");
    struct names documented = { .n = 0 };
    first_cells(doc, "\n### Every event\n", &documented);
    ck_assert_uint_gt(documented.n, 0);
    size_t n = 0;
    for (const char *name; (name = events_name(n)); n++)
        ck_assert_msg(names_has(&documented, name),
                      "the event %s can be published but docs/topics.md's event table does not list it", name);
    /* the header row's first cell is plain "Event" and adds nothing */
    for (size_t i = 0; i < documented.n; i++)
        ck_assert_msg(events_is_known(documented.v[i]),
                      "docs/topics.md lists the event %s, which printbridge never publishes", documented.v[i]);
    ck_assert_uint_eq(documented.n, n);
    names_free(&documented);
    free(doc);
}
END_TEST

/* The topics the decoder knows, as its "unknown command" replies list them:
 * "...; known: gcode, connection, job, hook/<name>, ..." gives command/gcode, ... */
static void known_topics(const char *prefix, struct names *out)
{
    char topic[64], err[512];
    struct command c;
    snprintf(topic, sizeof topic, "%sno-such-command", prefix);
    ck_assert_int_ne(commands_decode(topic, "", 0, &c, err, sizeof err), 0);
    commands_command_free(&c);
    const char *list = strstr(err, "known: ");
    ck_assert_msg(list != NULL, "the reply to %s names no known commands: %s", topic, err);
    list += strlen("known: ");
    while (*list) {
        size_t len = strcspn(list, ",");
        char full[128];
        snprintf(full, sizeof full, "%s%.*s", prefix, (int)len, list);
        names_add(out, full, strlen(full));
        list += len;
        list += strspn(list, ", ");
    }
}

START_TEST(test_every_command_topic_is_in_the_command_table_and_only_those)
{
    char *doc = slurp_doc("docs/commands.md");
    struct names documented = { .n = 0 }, known = { .n = 0 };
    first_cells(doc, "\n## Every command topic\n", &documented);
    known_topics("command/", &known);
    known_topics("hassControl/", &known);
    ck_assert_msg(names_has(&known, "command/upload/<path>"), "the unknown command reply does not name uploads");
    for (size_t i = 0; i < known.n; i++)
        ck_assert_msg(names_has(&documented, known.v[i]),
                      "printbridge takes commands on %s but docs/commands.md's table does not list it", known.v[i]);
    for (size_t i = 0; i < documented.n; i++)
        ck_assert_msg(names_has(&known, documented.v[i]),
                      "docs/commands.md lists %s, which printbridge does not take", documented.v[i]);
    names_free(&documented);
    names_free(&known);
    free(doc);
}
END_TEST

START_TEST(test_every_config_key_is_in_the_configuration_index)
{
    char *doc = slurp_doc("docs/configuration.md");
    struct names documented = { .n = 0 };
    first_cells(doc, "\n## Every setting\n", &documented);
    for (size_t i = 0; i < keys_count; i++) {
        char full[128];
        snprintf(full, sizeof full, "%s.%s", keys_table[i].group, keys_table[i].name);
        ck_assert_msg(names_has(&documented, full),
                      "the setting %s exists but docs/configuration.md's index does not list it", full);
    }
    /* the events and inbound groups are read by the hook configuration, not the key table */
    for (size_t i = 0; i < documented.n; i++) {
        const char *d = documented.v[i], *dot = strchr(d, '.');
        ck_assert_msg(dot != NULL, "docs/configuration.md's index lists \"%s\", which is not group.key", d);
        char group[64];
        snprintf(group, sizeof group, "%.*s", (int)(dot - d), d);
        ck_assert_msg(keys_find(group, dot + 1) || strcmp(group, "events") == 0 || strcmp(group, "inbound") == 0,
                      "docs/configuration.md lists the setting %s, which printbridge does not read", d);
    }
    names_free(&documented);
    free(doc);
}
END_TEST

/* ---- links -------------------------------------------------------------------------------- */

/* GitHub's anchor for a heading: lower case, spaces to '-', other punctuation dropped */
static void slug(const char *heading, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)heading[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch >= 0x80)
            out[o++] = (char)tolower(ch);
        else if (ch == ' ')
            out[o++] = '-';
    }
    out[o] = '\0';
}

static bool has_anchor(const char *doc, const char *anchor)
{
    bool fenced = false;
    for (const char *p = doc; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (strncmp(p, "```", 3) == 0)
            fenced = !fenced;
        if (fenced || *p != '#')
            continue;
        size_t h = strspn(p, "#");
        char s[256];
        slug(p + h + 1, len > h ? len - h - 1 : 0, s, sizeof s);
        if (strcmp(s, anchor) == 0)
            return true;
    }
    return false;
}

/* Every [text](target) of one page: a relative target must exist, and target#anchor must
 * name a heading of that page. Returns the number of links checked. */
static int check_links(const char *rel)
{
    char path[PATH_MAX], dir[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", srcdir(), rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    char *doc = slurp_path(path, NULL);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    int n = 0;
    bool fenced = false;
    for (char *line = doc; line && *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        if (strncmp(line, "```", 3) == 0)
            fenced = !fenced;
        for (char *p = line; !fenced && (p = strstr(p, "](")) != NULL;) {
            p += 2;
            size_t len = strcspn(p, ") ");
            char target[PATH_MAX];
            snprintf(target, sizeof target, "%.*s", (int)len, p);
            p += len;
            if (strstr(target, "://") || strncmp(target, "mailto:", 7) == 0)
                continue;
            char *hash = strchr(target, '#');
            if (hash)
                *hash++ = '\0';
            char file[2 * PATH_MAX];
            if (*target)
                snprintf(file, sizeof file, "%s/%s", dir, target);
            else
                snprintf(file, sizeof file, "%s", path);
            struct stat st;
            ck_assert_msg(stat(file, &st) == 0, "%s links to %s, which is not in the project", rel, target);
            if (hash && *hash) {
                char *other = slurp_path(file, NULL);
                ck_assert_ptr_nonnull(other);
                ck_assert_msg(has_anchor(other, hash), "%s links to %s#%s, which has no such heading", rel,
                              *target ? target : rel, hash);
                free(other);
            }
            n++;
        }
        line = eol ? eol + 1 : NULL;
    }
    free(doc);
    return n;
}

START_TEST(test_every_link_in_the_docs_resolves)
{
    char path[PATH_MAX];
    int links = check_links("README.md");
    snprintf(path, sizeof path, "%s/docs", srcdir());
    DIR *d = opendir(path);
    ck_assert_msg(d != NULL, "cannot open %s", path);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".md") == 0) {
            char rel[PATH_MAX];
            snprintf(rel, sizeof rel, "docs/%s", e->d_name);
            links += check_links(rel);
        }
    }
    closedir(d);
    ck_assert_int_gt(links, 20);
}
END_TEST

/* ---- what the project's files speak of ------------------------------------------------------- */

struct scan {
    regex_t words;      /* in every file */
    regex_t doc_words;  /* in the README, docs, man pages and the example configuration */
    int files;
};

static bool is_doc(const char *rel)
{
    return strcmp(rel, "README.md") == 0 || strncmp(rel, "docs/", 5) == 0 || strncmp(rel, "man/", 4) == 0 ||
           strncmp(rel, "etc/", 4) == 0;
}

static void scan_file(struct scan *s, const char *path, const char *rel)
{
    size_t len;
    char *text = slurp_path(path, &len);
    if (!text || len > (4u << 20) || memchr(text, '\0', len)) {   /* unreadable, huge or binary */
        free(text);
        return;
    }
    s->files++;
    int lineno = 1;
    for (char *line = text; line && *line; lineno++) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        regmatch_t m;
        bool hit = regexec(&s->words, line, 1, &m, 0) == 0 ||
                   (is_doc(rel) && regexec(&s->doc_words, line, 1, &m, 0) == 0);
        ck_assert_msg(!hit, "%s:%d speaks of the project's history instead of the project: \"%.*s\"", rel, lineno,
                      (int)(m.rm_eo - m.rm_so), line + m.rm_so);
        line = eol ? eol + 1 : NULL;
    }
    free(text);
}

static void scan_dir(struct scan *s, const char *path, const char *rel)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        /* version control, build output, installed client packages */
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, ".git") == 0 || strncmp(n, "build", 5) == 0 ||
            strcmp(n, "node_modules") == 0)
            continue;
        char p[PATH_MAX], r[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", path, n);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", n);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            scan_dir(s, p, r);
        else if (S_ISREG(st.st_mode))
            scan_file(s, p, r);
    }
    closedir(d);
}

START_TEST(test_no_project_file_speaks_of_its_history)
{
    struct scan s = { .files = 0 };
    /* spelt in pieces so this file does not match itself */
    ck_assert_int_eq(regcomp(&s.words, "(^|[^a-z])(iss" "ues?[ #-]*[0-9]|dra" "fts?([^a-z]|$))", REG_EXTENDED | REG_ICASE), 0);
    ck_assert_int_eq(regcomp(&s.doc_words, "(^|[^a-z])(bra" "nch(es)?|the le" "ad)([^a-z]|$)", REG_EXTENDED | REG_ICASE), 0);
    scan_dir(&s, srcdir(), "");
    regfree(&s.words);
    regfree(&s.doc_words);
    ck_assert_int_gt(s.files, 100);
}
END_TEST

Suite *docs_suite(void);
Suite *docs_suite(void)
{
    Suite *s = suite_create("docs");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, test_every_event_is_in_the_event_table_and_only_those);
    tcase_add_test(tc, test_every_command_topic_is_in_the_command_table_and_only_those);
    tcase_add_test(tc, test_every_config_key_is_in_the_configuration_index);
    tcase_add_test(tc, test_every_link_in_the_docs_resolves);
    tcase_add_test(tc, test_no_project_file_speaks_of_its_history);
    suite_add_tcase(s, tc);
    return s;
}
