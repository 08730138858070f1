/* secrets.c: warn when the broker password is readable by every local user (see base.h). */
#include "printbridge/base.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>


int secrets_check_file(const char *path, bool has_secret, char *msg, size_t msgsz)
{
    struct stat st;
    if (!has_secret || !path)
        return 0;
    if (stat(path, &st) != 0)
        return -errno;
    if (!(st.st_mode & (S_IROTH | S_IWOTH)))
        return 0;
    snprintf(msg, msgsz, "%s holds the MQTT password and is %s by every user on this machine (mode %03o); "
             "run chmod 640 %s", path,
             (st.st_mode & S_IROTH) ? ((st.st_mode & S_IWOTH) ? "readable and writable" : "readable") : "writable",
             (unsigned)(st.st_mode & 0777), path);
    return 1;
}

void secrets_warn(const char *config_path, bool config_has_password, const char *password_file)
{
    char msg[1024];
    if (secrets_check_file(config_path, config_has_password, msg, sizeof msg) == 1)
        log_warn("config: %s", msg);
    if (secrets_check_file(password_file, password_file != NULL, msg, sizeof msg) == 1)
        log_warn("config: %s", msg);
}
