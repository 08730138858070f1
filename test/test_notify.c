/* test_notify.c: the sd_notify datagram protocol without libsystemd (src/notify.c). */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "printbridge/base.h"

START_TEST(test_status_line_names_printer_and_broker_state)
{
    char buf[128];
    ck_assert_int_gt(notify_format_status(buf, sizeof buf, "Operational", "connected"), 0);
    ck_assert_str_eq(buf, "STATUS=Printer: Operational; broker: connected");
    ck_assert_int_gt(notify_format_status(buf, sizeof buf, "Offline\nREADY=1", NULL), 0);
    ck_assert_str_eq(buf, "STATUS=Printer: Offline READY=1; broker: unknown");   /* no injected field */
    ck_assert_int_eq(notify_format_status(buf, 10, "Operational", "connected"), -ENOSPC);
}
END_TEST

START_TEST(test_abstract_address_has_leading_nul_and_no_terminator)
{
    struct sockaddr_un sa;
    socklen_t len;
    ck_assert_int_eq(notify_address("@pb/test", &sa, &len), 0);
    ck_assert_int_eq(sa.sun_path[0], '\0');
    ck_assert_mem_eq(sa.sun_path + 1, "pb/test", 7);
    ck_assert_int_eq(len, offsetof(struct sockaddr_un, sun_path) + 8);
    ck_assert_int_eq(notify_address("/run/systemd/notify", &sa, &len), 0);
    ck_assert_str_eq(sa.sun_path, "/run/systemd/notify");
    ck_assert_int_eq(len, offsetof(struct sockaddr_un, sun_path) + 20);
    ck_assert_int_eq(notify_address("relative", &sa, &len), -EINVAL);
    ck_assert_int_eq(notify_address("", &sa, &len), -EINVAL);
    ck_assert_int_eq(notify_address(NULL, &sa, &len), -EINVAL);
    char lng[200];
    memset(lng, 'a', sizeof lng - 1);
    lng[0] = '/';
    lng[sizeof lng - 1] = '\0';
    ck_assert_int_eq(notify_address(lng, &sa, &len), -EINVAL);
}
END_TEST

START_TEST(test_watchdog_pings_at_half_the_timeout_for_this_process_only)
{
    ck_assert_uint_eq(notify_watchdog_interval_ms("20000000", NULL, 42), 10000);
    ck_assert_uint_eq(notify_watchdog_interval_ms("20000000", "42", 42), 10000);
    ck_assert_uint_eq(notify_watchdog_interval_ms("20000000", "43", 42), 0);
    ck_assert_uint_eq(notify_watchdog_interval_ms(NULL, NULL, 42), 0);
    ck_assert_uint_eq(notify_watchdog_interval_ms("0", NULL, 42), 0);
    ck_assert_uint_eq(notify_watchdog_interval_ms("-5", NULL, 42), 0);
    ck_assert_uint_eq(notify_watchdog_interval_ms("12x", NULL, 42), 0);
    ck_assert_uint_eq(notify_watchdog_interval_ms("1000", NULL, 42), 1);   /* never a 0 ms timer */
}
END_TEST

static int recv_line(int fd, char *buf, size_t size)
{
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = recv(fd, buf, size - 1, 0);
    if (r < 0)
        return -1;
    buf[r] = '\0';
    return (int)r;
}

static void on_stop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

START_TEST(test_messages_reach_an_abstract_socket_and_env_is_cleared)
{
    char name[64];
    snprintf(name, sizeof name, "@pb-test-notify-%ld", (long)getpid());
    struct sockaddr_un sa;
    socklen_t len;
    ck_assert_int_eq(notify_address(name, &sa, &len), 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "100000", 1);   /* a ping every 50 ms */
    unsetenv("WATCHDOG_PID");

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct notify *n;
    ck_assert_int_eq(notify_start(&n, &loop), 0);
    ck_assert_ptr_nonnull(n);
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_ptr_null(getenv("WATCHDOG_USEC"));

    char buf[256];
    notify_ready(n);
    ck_assert_int_gt(recv_line(fd, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "READY=1");
    notify_status(n, "Operational", "connected");
    notify_status(n, "Operational", "connected");   /* unchanged: not sent again */
    notify_status(n, "Printing", "connected");
    ck_assert_int_gt(recv_line(fd, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "STATUS=Printer: Operational; broker: connected");
    ck_assert_int_gt(recv_line(fd, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "STATUS=Printer: Printing; broker: connected");

    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    uv_timer_start(&stop, on_stop, 180, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    int pings = 0;
    struct timeval tv = { .tv_usec = 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t r; (r = recv(fd, buf, sizeof buf - 1, 0)) > 0;) {
        buf[r] = '\0';
        ck_assert_str_eq(buf, "WATCHDOG=1");
        pings++;
    }
    ck_assert_int_ge(pings, 2);
    ck_assert_int_le(pings, 4);

    notify_stopping(n);
    ck_assert_int_gt(recv_line(fd, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "STOPPING=1");
    notify_close(n);
    uv_close((uv_handle_t *)&stop, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    close(fd);
}
END_TEST

START_TEST(test_nothing_happens_without_notify_socket)
{
    unsetenv("NOTIFY_SOCKET");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct notify *n = (struct notify *)&loop;
    ck_assert_int_eq(notify_start(&n, &loop), 0);
    ck_assert_ptr_null(n);
    notify_ready(n);
    notify_status(n, "Operational", "connected");
    notify_close(n);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *notify_suite(void);
Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("sd_notify");
    tcase_add_test(tc, test_status_line_names_printer_and_broker_state);
    tcase_add_test(tc, test_abstract_address_has_leading_nul_and_no_terminator);
    tcase_add_test(tc, test_watchdog_pings_at_half_the_timeout_for_this_process_only);
    tcase_add_test(tc, test_messages_reach_an_abstract_socket_and_env_is_cleared);
    tcase_add_test(tc, test_nothing_happens_without_notify_socket);
    suite_add_tcase(s, tc);
    return s;
}
