/* portscan.h: serial port discovery with libserialport (enumeration and USB identity only;
 * ports are opened with termios in port.c because libserialport cannot open ptys). */
#ifndef PRINTBRIDGE_PORTSCAN_H
#define PRINTBRIDGE_PORTSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct portscan_entry {
    char device[256];           /* /dev/ttyACM0 */
    char description[256];
    bool usb;
    int vid, pid;               /* valid when usb */
    char serial[128];           /* USB serial number or "" */
    char by_id[4096];           /* the stable /dev/serial/by-id alias, or "" */
};

/* Lists the serial ports; *out is malloc'd (caller frees). Returns the count or -1 with a
 * one-line reason in err. */
int portscan_list(struct portscan_entry **out, char *err, size_t errsz);

/* Prints the list as --list-ports shows it. Returns 0, or -1 after printing the reason. */
int portscan_print(FILE *f);

/* Parses "VID:PID" (hex); returns 0 or -1. */
int portscan_parse_usb_id(const char *s, int *vid, int *pid);

/* For printer.port = "auto": the single USB serial device, or the one matching usb_id
 * (may be NULL). Writes its stable by-id path when there is one, else the device path.
 * Returns 0, or -1 with the reason in err (none found, or several and no usb_id). */
int portscan_pick(const char *usb_id, char *out, size_t outsz, char *err, size_t errsz);

#endif
