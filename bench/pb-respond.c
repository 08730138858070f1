/* pb-respond: the minimal printer, answering "ok" to every line, as fast as a pty allows.
 *
 *   pb-respond --link PATH
 *
 * Creates a raw pseudo-terminal, makes PATH a symlink to its slave,
 * prints "pb-respond: /dev/pts/N -> PATH", then answers each received line with "ok" (all
 * the lines of one read with one write). SIGTERM or SIGINT removes PATH and exits 0. It is
 * the reference the simulator's --fast mode is measured against. */
#include <errno.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--link") != 0) {
        fprintf(stderr, "usage: pb-respond --link PATH\n");
        return 2;
    }
    int master, slave;
    char name[128];
    if (openpty(&master, &slave, name, NULL, NULL) < 0) {
        perror("pb-respond: openpty");
        return 1;
    }
    struct termios tio;
    tcgetattr(slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);        /* the slave stays open: no EIO while no host */
    unlink(argv[2]);
    if (symlink(name, argv[2]) < 0) {
        perror("pb-respond: symlink");
        return 1;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("pb-respond: %s -> %s\n", name, argv[2]);
    fflush(stdout);

    static char in[65536], out[3 * sizeof in];
    while (!stop) {
        ssize_t r = read(master, in, sizeof in);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t n = 0;
        for (ssize_t i = 0; i < r; i++)
            if (in[i] == '\n') {
                memcpy(out + n, "ok\n", 3);
                n += 3;
            }
        for (size_t off = 0; off < n;) {
            ssize_t w = write(master, out + off, n - off);
            if (w < 0 && errno == EINTR && !stop)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    unlink(argv[2]);
    return 0;
}
