/* pb-latency: serial line -> MQTT subscriber latency, measured in one process.
 *
 *   pb-latency --link PATH --port N --topic TOPIC [--line TEMPLATE] [--rate HZ]
 *              [--count N] [--warmup N] [--start-after SECONDS]
 *
 * It is a printer on a raw pty (PATH is a symlink to the slave) that answers every host line
 * with "ok" (M115 with a FIRMWARE_NAME line first) and, once the host has been quiet for
 * --start-after seconds after its M115, writes lines from TEMPLATE (its "%lu" is replaced by a
 * sequence number, e.g. "//action:notification pbseq%lu") at a fixed rate (default 1000/s).
 * At the same time it is an MQTT subscriber (paho, 127.0.0.1:PORT) on TOPIC: the first
 * "pbseq<digits>" in each payload names the line it came from, and the time from the write()
 * of that line to the arrival of the message is its latency. The first --warmup lines are not
 * counted. Prints one line:
 *   sent=N received=M median_us=A p99_us=B max_us=C
 * Exit 1 if the host never connected or nothing came back. */
#include <MQTTAsync.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAXN 200000

static _Atomic long long sent_ns[MAXN], lat_ns[MAXN];
static atomic_int subscribed, received;
static volatile sig_atomic_t stop;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int on_message(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
    long long t = now_ns();
    (void)ctx;
    (void)tlen;
    const char *p = m->payload, *end = p + m->payloadlen;
    for (; p + 5 < end; p++)
        if (memcmp(p, "pbseq", 5) == 0 && p[5] >= '0' && p[5] <= '9') {
            unsigned long n = strtoul(p + 5, NULL, 10);
            long long s = n < MAXN ? atomic_load(&sent_ns[n]) : 0;
            if (s > 0 && atomic_load(&lat_ns[n]) == 0) {
                atomic_store(&lat_ns[n], t - s);
                atomic_fetch_add(&received, 1);
            }
            break;
        }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    (void)ctx;
    (void)r;
    atomic_store(&subscribed, 1);
}

static const char *topic_arg;

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
    o.onSuccess = on_subscribed;
    MQTTAsync_subscribe(*(MQTTAsync *)ctx, topic_arg, 0, &o);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* answer each complete host line; returns 1 once an M115 has been seen */
static int answer(int fd, char *buf, size_t *len)
{
    int m115 = 0;
    char *s = buf, *nl;
    while ((nl = memchr(s, '\n', *len - (size_t)(s - buf)))) {
        *nl = 0;
        const char *reply = "ok\n";
        if (strstr(s, "M115")) {
            reply = "FIRMWARE_NAME:Marlin pb-latency SOURCE_CODE_URL:none PROTOCOL_VERSION:1.0 "
                    "MACHINE_TYPE:bench EXTRUDER_COUNT:1\nok\n";
            m115 = 1;
        }
        if (write(fd, reply, strlen(reply)) < 0)
            return -1;
        s = nl + 1;
    }
    *len -= (size_t)(s - buf);
    memmove(buf, s, *len);
    if (*len == 4096)
        *len = 0;
    return m115;
}

int main(int argc, char **argv)
{
    const char *link = NULL, *tmpl = "//action:notification pbseq%lu";
    int port = 0;
    long rate = 1000, count = 10000, warmup = 500;
    double start_after = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--link")) link = v;
        else if (!strcmp(k, "--port")) port = atoi(v);
        else if (!strcmp(k, "--topic")) topic_arg = v;
        else if (!strcmp(k, "--line")) tmpl = v;
        else if (!strcmp(k, "--rate")) rate = atol(v);
        else if (!strcmp(k, "--count")) count = atol(v);
        else if (!strcmp(k, "--warmup")) warmup = atol(v);
        else if (!strcmp(k, "--start-after")) start_after = atof(v);
        else link = NULL, i = argc;
    }
    if (!link || !port || !topic_arg || rate < 1 || count < 1 || warmup < 0 || warmup + count > MAXN ||
        !strstr(tmpl, "%lu")) {
        fprintf(stderr, "usage: pb-latency --link PATH --port N --topic TOPIC [--line TEMPLATE-with-%%lu]"
                        " [--rate HZ] [--count N] [--warmup N] [--start-after S]\n");
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    MQTTAsync client;
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    MQTTAsync_create(&client, uri, "pb-latency", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    MQTTAsync_setCallbacks(client, NULL, NULL, on_message, NULL);
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.cleansession = 1;
    co.onSuccess = on_connected;
    co.context = &client;
    if (MQTTAsync_connect(client, &co) != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "pb-latency: cannot connect to %s\n", uri);
        return 1;
    }

    int master, slave;
    char name[128];
    struct termios tio;
    if (openpty(&master, &slave, name, NULL, NULL) < 0) {
        perror("pb-latency: openpty");
        return 1;
    }
    tcgetattr(slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    unlink(link);
    if (symlink(name, link) < 0) {
        perror("pb-latency: symlink");
        return 1;
    }
    printf("pb-latency: %s -> %s\n", name, link);
    fflush(stdout);

    char in[4096], line[256];
    size_t inlen = 0;
    long long quiet_since = 0, deadline = now_ns() + 30000000000LL, period = 1000000000LL / rate;
    long long next = 0;
    long seq = 0, total = warmup + count;
    int rc = 1;
    while (!stop) {
        long long t = now_ns();
        int timeout = 100;
        if (next && seq < total)
            timeout = next > t ? (int)((next - t) / 1000000) : 0;
        struct pollfd p = { .fd = master, .events = POLLIN };
        int pr = poll(&p, 1, timeout);
        if (pr > 0) {
            ssize_t r = read(master, in + inlen, sizeof in - inlen);
            if (r > 0) {
                inlen += (size_t)r;
                int m = answer(master, in, &inlen);
                if (m < 0)
                    break;
                if (m || quiet_since)
                    quiet_since = now_ns();
            }
        }
        t = now_ns();
        if (!next) {
            if (quiet_since && atomic_load(&subscribed) && t - quiet_since > (long long)(start_after * 1e9))
                next = t;
            else if (t > deadline) {
                fprintf(stderr, "pb-latency: the host did not connect (or the broker did not answer) within 30 s\n");
                break;
            }
            continue;
        }
        if (seq < total) {
            while (now_ns() < next)     /* the last sub-millisecond: spin, poll() is coarser */
                ;
            const char *at = strstr(tmpl, "%lu");
            int n = snprintf(line, sizeof line - 1, "%.*s%ld%s", (int)(at - tmpl), tmpl, seq, at + 3);
            if (n < 0 || n >= (int)sizeof line - 1) {
                fprintf(stderr, "pb-latency: --line too long\n");
                break;
            }
            line[n++] = '\n';
            atomic_store(&sent_ns[seq], now_ns());
            if (write(master, line, (size_t)n) != n) {
                perror("pb-latency: write");
                break;
            }
            seq++;
            next += period;
            if (seq == total)
                deadline = now_ns() + 2000000000LL;
            continue;
        }
        if (atomic_load(&received) >= total || t > deadline) {
            rc = 0;
            break;
        }
    }
    static long long v[MAXN];
    long nv = 0;
    for (long i = warmup; i < seq; i++) {
        long long l = atomic_load(&lat_ns[i]);
        if (l > 0)
            v[nv++] = l;
    }
    if (rc == 0 && nv > 0) {
        qsort(v, (size_t)nv, sizeof *v, cmp_ll);
        printf("sent=%ld received=%ld median_us=%.1f p99_us=%.1f max_us=%.1f\n", seq - warmup, nv,
               (double)v[nv / 2] / 1e3, (double)v[(nv * 99) / 100] / 1e3, (double)v[nv - 1] / 1e3);
    } else if (rc == 0) {
        fprintf(stderr, "pb-latency: none of the %ld lines came back on %s\n", seq - warmup, topic_arg);
        rc = 1;
    }
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnect(client, &d);
    MQTTAsync_destroy(&client);
    unlink(link);
    return rc;
}
