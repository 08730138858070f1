/* keys.h: the schema of the configuration file (keys.c): every group and key with its type,
 * range, default and field in struct config. The reader, the suggestions, the defaults and the
 * reload comparison all walk this one table, so a key added there is read, range-checked,
 * defaulted, suggested and compared everywhere at once. */
#ifndef PRINTBRIDGE_CONFIG_KEYS_H
#define PRINTBRIDGE_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "printbridge/config.h"

enum key_kind {
    KIND_STRING,
    KIND_INT,
    KIND_FLOAT,  /* an integer literal is accepted too */
    KIND_BOOL,
    KIND_BAUD,   /* an integer, or the string "auto" (stored as 0) */
    KIND_SCRIPT, /* a string split at '\n', or a list/array of strings */
    KIND_LEVEL,  /* a log level name, stored as enum log_level */
    KIND_NAMES,  /* a list of names (or one string); stored like KIND_SCRIPT */
};

/* Extra validation of a string value (checks.h): 0, or -EINVAL with the message tail
 * ("must ...") in why. */
typedef int key_check_fn(const char *value, char *why, size_t whysz);

struct key {
    const char *group;
    const char *name;
    enum key_kind kind;
    double min, max;        /* inclusive; numbers only */
    double def;             /* default of numbers, bools and the log level */
    const char *def_str;    /* default of strings; NULL = unset */
    size_t off;             /* the field: an offset into struct config */
    const char *example;    /* a correct line, shown in type errors */
    key_check_fn *check;
};

struct key_group {
    const char *name;
    const char *example;    /* a correct group, shown when a scalar stands in its place */
};

extern const struct key keys_table[];
extern const size_t keys_count;
extern const struct key_group keys_groups[];
extern const size_t keys_ngroups;

/* What a value of each kind must be, for messages: "an integer", "true or false", ... */
const char *keys_kind_wants(enum key_kind kind);

/* The key's field inside a struct the table's offsets describe (struct config). */
static inline void *key_field(const struct key *k, void *base) { return (char *)base + k->off; }

/* The key named group.name, or NULL. */
const struct key *keys_find(const char *group, const char *name);
/* The group of that name, or NULL (the hookconfig groups are not in the table). */
const struct key_group *keys_find_group(const char *name);

/* Whether key k holds the same value in a and b, compared by its kind (strings by content,
 * NULL equal only to NULL; script and name lists line by line). */
bool key_same(const struct key *k, const void *a, const void *b);

/* Whether any key of group in table[0..n) differs between a and b, skipping the names in
 * except (NULL-terminated, or NULL). The table is a parameter so tests can prove that a key
 * added to it is compared with no other change. */
bool keys_group_differs(const struct key *table, size_t n, const char *group,
                        const char *const *except, const void *a, const void *b);

/* The default mqtt.client_id: "printbridge-<host>-<base topic>", every byte outside
 * [A-Za-z0-9] made '-'. NULL when memory ran out. */
char *keys_default_client_id(const char *base_topic);

#endif
