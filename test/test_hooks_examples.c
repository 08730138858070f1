/* test_hooks_examples.c: the Discord and Slack examples of docs/hooks-examples.conf, loaded
 * as written (only the webhook URLs point at a local HTTP server on the test's own loop),
 * fired with PrintDone, PrintFailed and PrintProgress payloads; curl must post exactly the
 * JSON bodies a user gets, a hostile file name included. Skipped without curl. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "printbridge/config.h"
#include "printbridge/hooks.h"

static uv_loop_t loop;
static uv_tcp_t server;
static char bodies[16][1024];   /* "path body" per request, in arrival order */
static int nbodies;

struct conn {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
    uv_write_t w;
};

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    uv_close((uv_handle_t *)w->handle, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)sz;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    char *cl = strcasestr(c->buf, "Content-Length:");
    if (!end || !cl || strlen(end + 4) < (size_t)atoi(cl + 15))
        return;     /* not all of it yet */
    char path[64] = "";
    sscanf(c->buf, "POST %63s", path);
    if (nbodies < 16)
        snprintf(bodies[nbodies++], sizeof bodies[0], "%s %s", path, end + 4);
    uv_read_stop(s);
    static char resp[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    uv_buf_t rb = uv_buf_init(resp, sizeof resp - 1);
    uv_write(&c->w, s, &rb, 1, on_written);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof *c);
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static char *replace(char *text, const char *from, const char *to)
{
    char *p;
    while ((p = strstr(text, from))) {
        char *out;
        ck_assert_int_ge(asprintf(&out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from)), 0);
        free(text);
        text = out;
    }
    return text;
}

static bool has_body(const char *want)
{
    for (int i = 0; i < nbodies; i++)
        if (strcmp(bodies[i], want) == 0)
            return true;
    return false;
}

START_TEST(test_discord_and_slack_examples_post_valid_json)
{
    if (access("/usr/bin/curl", X_OK) != 0 && system("command -v curl >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_hooks_examples: no curl, skipped\n");
        return;
    }
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    ck_assert_int_eq(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&server, 16, on_connection), 0);
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &blen);
    int port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

    /* the examples as shipped, with the two URLs made local */
    const char *src = getenv("PB_SRCDIR");
    char path[4096], url[128];
    snprintf(path, sizeof path, "%s/docs/hooks-examples.conf", src ? src : ".");
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    fclose(f);
    text[n] = '\0';
    snprintf(url, sizeof url, "http://127.0.0.1:%d/discord", port);
    text = replace(text, "https://discord.com/api/webhooks/ID/TOKEN", url);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slack", port);
    text = replace(text, "https://hooks.slack.com/services/T000/B000/XXXX", url);
    char conf[64];
    snprintf(conf, sizeof conf, "/tmp/pb-examples-%d.conf", (int)getpid());
    f = fopen(conf, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    struct config cfg;
    char err[1024];
    int rc = config_load(&cfg, conf, err, sizeof err);
    unlink(conf);
    ck_assert_msg(rc == 0, "%s", err);

    struct events ev;
    struct hooks *h;
    events_init(&ev);
    ck_assert_int_eq(hooks_create(&h, &loop, &ev, cfg.hooks), 0);
    events_add_sink(&ev, hooks_on_event, h);
    events_fire(&ev, "PrintDone", json_pack("{s:s, s:s, s:s, s:i, s:f}", "name", "cube \"v2\".gcode", "path",
                                            "parts/cube \"v2\".gcode", "origin", "local", "size", 4713047, "time", 5252.5));
    events_fire(&ev, "PrintFailed", json_pack("{s:s, s:s, s:s, s:f, s:s}", "name", "x.gcode", "path", "x.gcode", "origin",
                                              "local", "time", 12.0, "reason", "error"));
    events_fire(&ev, "PrintProgress", json_pack("{s:i, s:i, s:i, s:i, s:s, s:s}", "progress", 25, "time", 600, "timeLeft",
                                                1800, "layer", 12, "name", "x.gcode", "path", "x.gcode"));
    uint64_t deadline = uv_hrtime() + 20ULL * 1000000000ULL;
    while ((hooks_active(h) > 0 || nbodies < 6) && uv_hrtime() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_msg(nbodies == 6, "%d requests arrived", nbodies);
    ck_assert(has_body("/discord {\"content\": \"PrintDone: **cube \\\"v2\\\".gcode** after 5252.5 s\"}"));
    ck_assert(has_body("/discord {\"content\": \"PrintFailed: **x.gcode** after 12.0 s\"}"));
    ck_assert(has_body("/discord {\"content\": \"x.gcode: 25 %, layer 12, 1800 s left\"}"));
    ck_assert(has_body("/slack {\"text\": \"PrintDone cube \\\"v2\\\".gcode (parts/cube \\\"v2\\\".gcode)\"}"));
    ck_assert(has_body("/slack {\"text\": \"PrintFailed x.gcode (x.gcode)\"}"));
    ck_assert(has_body("/slack {\"text\": \"PrintProgress x.gcode (x.gcode)\"}"));

    hooks_stop(h);
    uv_close((uv_handle_t *)&server, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    hooks_free(h);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    config_free(&cfg);
}
END_TEST

Suite *hooks_examples_suite(void);
Suite *hooks_examples_suite(void)
{
    Suite *s = suite_create("hooks_examples");
    TCase *tc = tcase_create("docs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_discord_and_slack_examples_post_valid_json);
    suite_add_tcase(s, tc);
    return s;
}
