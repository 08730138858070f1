/* sd.h: the simulated SD card, a host folder seen through FAT eyes.
 *
 * Every regular, non-hidden file at the top of the folder is on the card. Like FAT, each file
 * has a short 8.3 name: the file name itself (upper-cased; lower-cased for the Prusa flavor)
 * when it already is a valid 8.3 name, otherwise an alias "BASE~N.EXT" made from its first
 * six usable characters. M20 lists the short names; the long name is the real file name.
 * Lookups accept either, case-insensitively, with or without a leading '/'. */
#ifndef PRINTBRIDGE_SIM_SD_H
#define PRINTBRIDGE_SIM_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sim_sd_file {
    char *name;          /* the real (long) file name; owned by the list */
    char alias[13];      /* 8.3 short name, NUL-terminated */
    long long size;
    time_t mtime;
};

struct sim_sd_list {
    struct sim_sd_file *files;   /* sorted by name (strcmp) */
    size_t count;
};

/* Reads dir. Returns 0, or a negative errno (list left empty). lower: lower-case short names. */
int sim_sd_scan(const char *dir, bool lower, struct sim_sd_list *list);
void sim_sd_list_free(struct sim_sd_list *list);

/* True if name is a valid 8.3 name: 1-8 characters, optionally '.' and 1-3 more, all from the
 * FAT short-name character set (letters, digits, and $%'-_@~`!(){}^#&). */
bool sim_sd_is_short_name(const char *name);
/* True if name may be created inside the folder: not empty, no '/', not "." or "..", no
 * control characters, at most 255 bytes. */
bool sim_sd_name_is_safe(const char *name);
/* The file called name (short or long, case-insensitive, leading '/' ignored), or NULL. */
const struct sim_sd_file *sim_sd_lookup(const struct sim_sd_list *list, const char *name);
/* True if the short name's extension starts with G (what Marlin's M20 lists). */
bool sim_sd_is_gcode(const struct sim_sd_file *f);
/* FAT date in the upper 16 bits, FAT time in the lower 16 (2 s resolution, years 1980-2107). */
uint32_t sim_sd_fat_timestamp(const struct tm *tm);
/* One M20 line: "SHORT SIZE[ 0xTIMESTAMP][ LONGNAME]". Returns its length or -ENOSPC if out is
 * too small. The timestamp uses local time like a FAT volume. */
int sim_sd_format_entry(char *out, size_t outsz, const struct sim_sd_file *f, bool with_long, bool with_time);

#endif
