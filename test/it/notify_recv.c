/* notify_recv.c: a stand-in for systemd's notification socket in test_it_systemd_notify.sh.
 * Binds a datagram socket (a path, or "@name" for an abstract one) and prints every datagram
 * received on its own line, flushed, until killed. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (argc != 2 || strlen(argv[1]) < 2 || strlen(argv[1]) >= sizeof sa.sun_path) {
        fprintf(stderr, "usage: notify_recv PATH|@NAME\n");
        return 2;
    }
    size_t n = strlen(argv[1]);
    memcpy(sa.sun_path, argv[1], n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    if (argv[1][0] == '@') {
        sa.sun_path[0] = '\0';
        len--;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0) {
        perror("notify_recv: bind");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    char buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
        if (r < 0)
            return 1;
        buf[r] = '\0';
        printf("%s\n", buf);
        fflush(stdout);
    }
}
