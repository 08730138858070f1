/* port_baud.c: non-standard baud rates (250000 and friends) via Linux termios2 / BOTHER.
 * Kept apart from port.c because <asm/termbits.h> and <termios.h> cannot be included in the
 * same translation unit. */
#include <asm/termbits.h>
#include <errno.h>
#include <sys/ioctl.h>

int port_set_custom_baud(int fd, int baud);

int port_set_custom_baud(int fd, int baud)
{
    struct termios2 t;
    if (ioctl(fd, TCGETS2, &t) < 0)
        return -errno;
    t.c_cflag &= ~(tcflag_t)(CBAUD | (CBAUD << IBSHIFT));
    t.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
    t.c_ispeed = t.c_ospeed = (speed_t)baud;
    if (ioctl(fd, TCSETS2, &t) < 0)
        return -errno;
    if (ioctl(fd, TCGETS2, &t) < 0)
        return -errno;
    return (int)t.c_ospeed;
}
