/* sd.c: the simulated SD card's directory (see sd.h): scanning the folder, the 8.3 short
 * names a FAT card would show, lookups by either name, and the M20 line format. Hosts meet
 * short names on real Marlin boards (upload "benchy.gcode", list "BENCHY~1.GCO"), so the
 * simulator shows them too. */
#include "sd.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static bool short_name_char(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("$%'-_@~`!(){}^#&", c) != NULL);
}

bool sim_sd_is_short_name(const char *name)
{
    size_t base = 0, ext = 0;
    const char *p = name;
    for (; *p && *p != '.'; p++, base++)
        if (!short_name_char((unsigned char)*p) || (unsigned char)*p > 127)
            return false;
    if (base == 0 || base > 8)
        return false;
    if (*p == '.') {
        for (p++; *p; p++, ext++)
            if (!short_name_char((unsigned char)*p) || (unsigned char)*p > 127)
                return false;
        if (ext == 0 || ext > 3)
            return false;
    }
    return true;
}

bool sim_sd_name_is_safe(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static void set_case(char *s, bool lower)
{
    for (; *s; s++)
        *s = (char)(lower ? tolower((unsigned char)*s) : toupper((unsigned char)*s));
}

static bool alias_taken(const struct sim_sd_list *list, size_t upto, const char *alias)
{
    for (size_t i = 0; i < upto; i++)
        if (list->files[i].alias[0] && strcasecmp(list->files[i].alias, alias) == 0)
            return true;
    return false;
}

/* The usable characters of s[0..n), upper-cased, at most max of them. */
static size_t alias_part(const char *s, size_t n, size_t max, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 127 || c == ' ' || c == '.')
            continue;
        if (strchr("+,;=[]", c))
            c = '_';
        if (!short_name_char(c))
            continue;
        out[k++] = (char)toupper(c);
    }
    out[k] = '\0';
    return k;
}

static void make_alias(const struct sim_sd_list *list, size_t idx, bool lower)
{
    struct sim_sd_file *f = &list->files[idx];
    const char *dot = strrchr(f->name, '.');
    size_t base_len = dot && dot != f->name ? (size_t)(dot - f->name) : strlen(f->name);
    char base[9], ext[4];
    alias_part(f->name, base_len, 8, base);
    if (dot && dot != f->name)
        alias_part(dot + 1, strlen(dot + 1), 3, ext);
    else
        ext[0] = '\0';
    if (base[0] == '\0')
        strcpy(base, "_");
    for (unsigned n = 1; n < 1000000; n++) {
        char num[12];
        int numlen = snprintf(num, sizeof num, "~%u", n);
        size_t keep = strlen(base);
        if (keep + (size_t)numlen > 8)
            keep = 8 - (size_t)numlen;    /* six characters before "~1", five before "~10" */
        char candidate[48];
        int len = snprintf(candidate, sizeof candidate, "%.*s%s%s%s", (int)keep, base, num, ext[0] ? "." : "", ext);
        if (len < 0 || (size_t)len >= sizeof f->alias)
            break;
        set_case(candidate, lower);
        if (!alias_taken(list, list->count, candidate)) {
            memcpy(f->alias, candidate, (size_t)len + 1);
            return;
        }
    }
    memcpy(f->alias, "_", 2);
}

static int compare_files(const void *a, const void *b)
{
    return strcmp(((const struct sim_sd_file *)a)->name, ((const struct sim_sd_file *)b)->name);
}

int sim_sd_scan(const char *dir, bool lower, struct sim_sd_list *list)
{
    list->files = NULL;
    list->count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (list->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct sim_sd_file *nf = realloc(list->files, ncap * sizeof *nf);
            if (!nf) {
                rc = -ENOMEM;
                goto out;
            }
            list->files = nf;
            cap = ncap;
        }
        struct sim_sd_file *f = &list->files[list->count];
        memset(f, 0, sizeof *f);
        f->name = strdup(de->d_name);
        if (!f->name) {
            rc = -ENOMEM;
            goto out;
        }
        f->size = (long long)st.st_size;
        f->mtime = st.st_mtime;
        list->count++;
    }
    if (list->count > 1)
        qsort(list->files, list->count, sizeof *list->files, compare_files);
    /* Names that already are 8.3 keep them; the others get aliases that avoid those. */
    for (size_t i = 0; i < list->count; i++) {
        struct sim_sd_file *f = &list->files[i];
        if (!sim_sd_is_short_name(f->name))
            continue;
        char natural[13];
        snprintf(natural, sizeof natural, "%s", f->name);
        set_case(natural, lower);
        if (!alias_taken(list, list->count, natural))
            memcpy(f->alias, natural, sizeof f->alias);
    }
    for (size_t i = 0; i < list->count; i++)
        if (list->files[i].alias[0] == '\0')
            make_alias(list, i, lower);
out:
    closedir(d);
    if (rc != 0)
        sim_sd_list_free(list);
    return rc;
}

void sim_sd_list_free(struct sim_sd_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->files[i].name);
    free(list->files);
    list->files = NULL;
    list->count = 0;
}

const struct sim_sd_file *sim_sd_lookup(const struct sim_sd_list *list, const char *name)
{
    while (*name == '/')
        name++;
    for (size_t i = 0; i < list->count; i++)
        if (strcasecmp(list->files[i].alias, name) == 0)
            return &list->files[i];
    for (size_t i = 0; i < list->count; i++)
        if (strcasecmp(list->files[i].name, name) == 0)
            return &list->files[i];
    return NULL;
}

bool sim_sd_is_gcode(const struct sim_sd_file *f)
{
    const char *dot = strrchr(f->alias, '.');
    return dot && (dot[1] == 'G' || dot[1] == 'g');
}

uint32_t sim_sd_fat_timestamp(const struct tm *tm)
{
    int year = tm->tm_year + 1900 - 1980;
    if (year < 0)
        year = 0;
    if (year > 127)
        year = 127;
    uint32_t date = ((uint32_t)year << 9) | ((uint32_t)(tm->tm_mon + 1) << 5) | (uint32_t)tm->tm_mday;
    uint32_t time = ((uint32_t)tm->tm_hour << 11) | ((uint32_t)tm->tm_min << 5) | (uint32_t)(tm->tm_sec / 2);
    return (date << 16) | time;
}

int sim_sd_format_entry(char *out, size_t outsz, const struct sim_sd_file *f, bool with_long, bool with_time)
{
    int len = snprintf(out, outsz, "%s %lld", f->alias, f->size);
    if (len < 0 || (size_t)len >= outsz)
        return -ENOSPC;
    if (with_time) {
        struct tm tm;
        if (!localtime_r(&f->mtime, &tm))
            memset(&tm, 0, sizeof tm);
        int n = snprintf(out + len, outsz - (size_t)len, " 0x%08X", (unsigned)sim_sd_fat_timestamp(&tm));
        if (n < 0 || (size_t)n >= outsz - (size_t)len)
            return -ENOSPC;
        len += n;
    }
    if (with_long) {
        int n = snprintf(out + len, outsz - (size_t)len, " %s", f->name);
        if (n < 0 || (size_t)n >= outsz - (size_t)len)
            return -ENOSPC;
        len += n;
    }
    return len;
}
