/* portscan.c: finding the printer. libserialport enumerates ports and reads their USB
 * identity from sysfs; the /dev/serial/by-id aliases are matched by resolving each link,
 * because those names survive re-enumeration (ttyACM0 becoming ttyACM1 after a replug). */
#include "printbridge/serial.h"

#include <dirent.h>
#include <libserialport.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BY_ID_DIR "/dev/serial/by-id"

static void find_by_id(const char *device, char *out, size_t outsz)
{
    char real_dev[PATH_MAX];
    out[0] = '\0';
    if (!realpath(device, real_dev))
        return;
    DIR *d = opendir(BY_ID_DIR);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[PATH_MAX + 256], target[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "%s/%s", BY_ID_DIR, e->d_name);
        if (realpath(link, target) && strcmp(target, real_dev) == 0 && strlen(link) < outsz) {
            memcpy(out, link, strlen(link) + 1);
            break;
        }
    }
    closedir(d);
}

int portscan_list(struct portscan_entry **out, char *err, size_t errsz)
{
    struct sp_port **ports;
    *out = NULL;
    if (sp_list_ports(&ports) != SP_OK) {
        char *m = sp_last_error_message();
        snprintf(err, errsz, "cannot list serial ports: %s", m ? m : "unknown error");
        sp_free_error_message(m);
        return -EIO;
    }
    int n = 0;
    while (ports[n])
        n++;
    struct portscan_entry *list = calloc(n ? (size_t)n : 1, sizeof *list);
    if (!list) {
        sp_free_port_list(ports);
        snprintf(err, errsz, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct sp_port *sp = ports[i];
        struct portscan_entry *e = &list[i];
        const char *desc = sp_get_port_description(sp);
        snprintf(e->device, sizeof e->device, "%s", sp_get_port_name(sp));
        snprintf(e->description, sizeof e->description, "%s", desc ? desc : "");
        if (sp_get_port_transport(sp) == SP_TRANSPORT_USB &&
            sp_get_port_usb_vid_pid(sp, &e->vid, &e->pid) == SP_OK) {
            const char *serial = sp_get_port_usb_serial(sp);
            e->usb = true;
            snprintf(e->serial, sizeof e->serial, "%s", serial ? serial : "");
        }
        find_by_id(e->device, e->by_id, sizeof e->by_id);
    }
    sp_free_port_list(ports);
    *out = list;
    return n;
}

int portscan_print(FILE *f)
{
    struct portscan_entry *list;
    char err[256];
    int n = portscan_list(&list, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "printbridge: %s\n", err);
        return n;
    }
    if (n == 0)
        fprintf(f, "no serial ports found\n");
    for (int i = 0; i < n; i++) {
        struct portscan_entry *e = &list[i];
        fprintf(f, "%s\n  description: %s\n", e->device, e->description[0] ? e->description : "-");
        if (e->usb)
            fprintf(f, "  usb: %04x:%04x  serial: %s\n", (unsigned)e->vid, (unsigned)e->pid,
                    e->serial[0] ? e->serial : "-");
        else
            fprintf(f, "  usb: -\n");
        if (e->by_id[0])
            fprintf(f, "  stable name: %s\n", e->by_id);
    }
    free(list);
    return 0;
}

int portscan_parse_usb_id(const char *s, int *vid, int *pid)
{
    unsigned v, p;
    int used = 0;
    if (!s || sscanf(s, "%4x:%4x%n", &v, &p, &used) != 2 || s[used] != '\0')
        return -EINVAL;
    *vid = (int)v;
    *pid = (int)p;
    return 0;
}

int portscan_pick(const char *usb_id, char *out, size_t outsz, char *err, size_t errsz)
{
    struct portscan_entry *list;
    int vid = -1, pid = -1;
    if (usb_id && *usb_id && portscan_parse_usb_id(usb_id, &vid, &pid) < 0) {
        snprintf(err, errsz, "printer.usb_id \"%s\" is not VID:PID", usb_id);
        return -EINVAL;
    }
    int n = portscan_list(&list, err, errsz);
    if (n < 0)
        return n;
    int found = -1, matches = 0;
    for (int i = 0; i < n; i++) {
        if (!list[i].usb)
            continue;
        if (vid >= 0 && (list[i].vid != vid || list[i].pid != pid))
            continue;
        if (found < 0)
            found = i;
        matches++;
    }
    int rc = matches == 0 ? -ENOENT : -EEXIST;
    if (matches == 1) {
        snprintf(out, outsz, "%s", list[found].by_id[0] ? list[found].by_id : list[found].device);
        rc = 0;
    } else if (matches == 0) {
        snprintf(err, errsz, vid >= 0 ? "no USB serial device %04x:%04x found" : "no USB serial device found",
                 (unsigned)vid, (unsigned)pid);
    } else {
        snprintf(err, errsz, "%d USB serial devices found; set printer.port or printer.usb_id "
                 "(printbridge --list-ports shows them)", matches);
    }
    free(list);
    return rc;
}
