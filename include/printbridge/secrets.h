/* secrets.h: start-up checks on the files that hold the broker password. */
#ifndef PRINTBRIDGE_SECRETS_H
#define PRINTBRIDGE_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

/* When path holds a secret (has_secret) and its mode lets others (not owner, not group) read
 * or write it, writes one warning line into msg naming the file and the fix, and returns 1;
 * 0 when the mode is fine or there is no secret; -errno when stat fails. */
int secrets_check_file(const char *path, bool has_secret, char *msg, size_t msgsz);

/* Logs the warnings for the configuration file (when it sets mqtt.password) and for
 * mqtt.password_file (may be NULL). */
void secrets_warn(const char *config_path, bool config_has_password, const char *password_file);

#endif
