/* test_outbox.c: the mqtt layer's offline FIFO, messages in flight and the queue file. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqtt/outbox.h"

static void keep(struct outbox *o, const char *topic, int qos)
{
    struct outbox_msg *q;
    ck_assert_int_eq(outbox_msg_create(&q, topic, topic, strlen(topic), qos, false), 0);
    ck_assert_int_eq(outbox_keep(o, q), 0);
}

/* The topics waiting, in order, separated by spaces. */
static const char *waiting(const struct outbox *o)
{
    static char buf[512];
    buf[0] = '\0';
    for (const struct outbox_msg *q = o->waiting.head; q; q = q->next)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? " " : "", q->topic);
    return buf;
}

/* Hands the oldest waiting message to a pretend Paho under token. */
static void send_one(struct outbox *o, int token)
{
    struct outbox_msg *q = outbox_take(o);
    ck_assert_ptr_nonnull(q);
    outbox_sent(o, q, token);
}

START_TEST(test_full_drops_oldest_qos0_first)
{
    struct outbox o;
    outbox_init(&o, 3);
    keep(&o, "a1", 1);
    keep(&o, "b0", 0);
    keep(&o, "c1", 1);
    keep(&o, "d0", 0);      /* full: b0, the oldest QoS 0, goes */
    ck_assert_str_eq(waiting(&o), "a1 c1 d0");
    keep(&o, "e1", 1);      /* d0 next */
    ck_assert_str_eq(waiting(&o), "a1 c1 e1");
    keep(&o, "f1", 1);      /* no QoS 0 left: the oldest of any kind */
    ck_assert_str_eq(waiting(&o), "c1 e1 f1");
    ck_assert_uint_eq(o.dropped, 3);
    ck_assert_uint_eq(outbox_take_dropped(&o), 3);
    ck_assert_uint_eq(outbox_take_dropped(&o), 0);
    ck_assert_uint_eq(outbox_count(&o), 3);
    outbox_clear(&o);
}
END_TEST

static void keep_cls(struct outbox *o, const char *topic, enum outbox_class cls)
{
    struct outbox_msg *q;
    ck_assert_int_eq(outbox_msg_create(&q, topic, topic, strlen(topic), 0, false), 0);
    q->cls = cls;
    ck_assert_int_eq(outbox_keep(o, q), 0);
}

START_TEST(test_snapshots_replace_and_readings_go_first)
{
    struct outbox o;
    outbox_init(&o, 4);
    keep_cls(&o, "state", OUTBOX_SNAPSHOT);
    keep_cls(&o, "ev1", OUTBOX_NEWS);
    keep_cls(&o, "temp", OUTBOX_READING);
    keep_cls(&o, "state", OUTBOX_SNAPSHOT);     /* replaces the first, takes its own place */
    ck_assert_str_eq(waiting(&o), "ev1 temp state");
    ck_assert_uint_eq(o.dropped, 0);
    keep_cls(&o, "ev2", OUTBOX_NEWS);
    keep_cls(&o, "ev3", OUTBOX_NEWS);           /* full: the reading goes, not an event */
    ck_assert_str_eq(waiting(&o), "ev1 state ev2 ev3");
    keep_cls(&o, "ev4", OUTBOX_NEWS);           /* then the snapshot */
    ck_assert_str_eq(waiting(&o), "ev1 ev2 ev3 ev4");
    keep_cls(&o, "ev5", OUTBOX_NEWS);           /* then the oldest event */
    ck_assert_str_eq(waiting(&o), "ev2 ev3 ev4 ev5");
    ck_assert_uint_eq(o.dropped, 3);
    outbox_clear(&o);
}
END_TEST

START_TEST(test_no_room_at_all)
{
    struct outbox o;
    struct outbox_msg *q;
    outbox_init(&o, 0);
    ck_assert_int_eq(outbox_msg_create(&q, "t", "p", 1, 1, true), 0);
    ck_assert_int_eq(outbox_keep(&o, q), -ENOBUFS);
    ck_assert_uint_eq(o.dropped, 1);
    ck_assert_uint_eq(outbox_count(&o), 0);
}
END_TEST

START_TEST(test_in_flight_until_acknowledged)
{
    struct outbox o;
    outbox_init(&o, 10);
    keep(&o, "q0", 0);
    keep(&o, "a", 1);
    keep(&o, "b", 2);
    keep(&o, "c", 1);
    send_one(&o, 0);        /* QoS 0: done once Paho has it */
    send_one(&o, 1);
    send_one(&o, 2);
    send_one(&o, 3);
    ck_assert_uint_eq(o.inflight.len, 3);
    ck_assert(!outbox_has_waiting(&o));
    outbox_settle(&o, 2, true);     /* b acknowledged */
    outbox_settle(&o, 2, true);     /* again: unknown by now, ignored */
    outbox_settle(&o, 1, false);    /* a refused: waits again at the end */
    ck_assert_str_eq(waiting(&o), "a");
    ck_assert_uint_eq(outbox_count(&o), 2);
    keep(&o, "d", 1);
    outbox_requeue(&o);             /* connection lost: c goes back in front */
    ck_assert_str_eq(waiting(&o), "c a d");
    ck_assert_uint_eq(o.inflight.len, 0);
    outbox_clear(&o);
}
END_TEST

START_TEST(test_requeue_keeps_the_limit)
{
    struct outbox o;
    outbox_init(&o, 2);
    keep(&o, "a", 1);
    send_one(&o, 7);
    keep(&o, "b0", 0);
    keep(&o, "c", 1);       /* a in flight counts: b0 goes */
    ck_assert_str_eq(waiting(&o), "c");
    outbox_requeue(&o);
    ck_assert_str_eq(waiting(&o), "a c");
    ck_assert_uint_eq(o.dropped, 1);
    outbox_clear(&o);
}
END_TEST

START_TEST(test_bequeath_goes_in_front_of_the_heir)
{
    struct outbox old, heir;
    outbox_init(&old, 1);
    outbox_init(&heir, 3);
    keep(&old, "x0", 0);
    keep(&old, "o1", 1);    /* drops x0, unreported */
    send_one(&old, 4);
    keep(&heir, "h1", 1);
    keep(&heir, "h2", 1);
    keep(&heir, "h3", 1);
    outbox_bequeath(&old, &heir);
    ck_assert_str_eq(waiting(&heir), "h1 h2 h3");   /* the heir's limit: the oldest, o1, went */
    ck_assert_uint_eq(outbox_count(&old), 0);
    ck_assert_uint_eq(outbox_take_dropped(&heir), 2);
    outbox_clear(&heir);

    outbox_init(&old, 5);
    outbox_init(&heir, 5);
    keep(&old, "o1", 1);
    keep(&old, "o2", 1);
    send_one(&old, 1);
    keep(&heir, "h1", 1);
    outbox_bequeath(&old, &heir);
    ck_assert_str_eq(waiting(&heir), "o1 o2 h1");
    outbox_clear(&heir);
}
END_TEST

static char *tmp_path(char *dir, size_t dirsz, const char *name)
{
    snprintf(dir, dirsz, "%s/pb-outbox.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    return path;
}

START_TEST(test_queue_file_round_trip)
{
    char dir[256];
    char *path = tmp_path(dir, sizeof dir, "queue");
    struct outbox o;
    outbox_init(&o, 10);
    struct outbox_msg *q;
    ck_assert_int_eq(outbox_msg_create(&q, "bin", "a\0b\nc", 5, 2, true), 0);
    ck_assert_int_eq(outbox_keep(&o, q), 0);
    keep(&o, "later", 0);
    ck_assert_int_eq(outbox_load(&o, path), 0);     /* none yet: no error */
    send_one(&o, 9);        /* in flight: saved in front */
    keep(&o, "last", 1);
    ck_assert_int_eq(outbox_save(&o, path), 0);
    outbox_clear(&o);
    ck_assert_int_eq(access(path, F_OK), 0);

    outbox_init(&o, 10);
    keep(&o, "mine", 1);
    ck_assert_int_eq(outbox_load(&o, path), 0);
    ck_assert_str_eq(waiting(&o), "bin later last mine");
    q = o.waiting.head;
    ck_assert_uint_eq(q->len, 5);
    ck_assert_int_eq(memcmp(q->payload, "a\0b\nc", 5), 0);
    ck_assert_int_eq(q->qos, 2);
    ck_assert(q->retain);
    ck_assert(!q->next->retain);
    ck_assert_int_ne(access(path, F_OK), 0);        /* loaded once only */
    outbox_clear(&o);
    rmdir(dir);
    free(path);
}
END_TEST

START_TEST(test_damaged_queue_file)
{
    char dir[256];
    char *path = tmp_path(dir, sizeof dir, "queue");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("1 0 3 2\ntopok\n1 1 3 9\nabcshort", f);
    fclose(f);
    struct outbox o;
    outbox_init(&o, 10);
    ck_assert_int_eq(outbox_load(&o, path), -EBADMSG);
    ck_assert_str_eq(waiting(&o), "top");
    ck_assert_int_ne(access(path, F_OK), 0);
    outbox_clear(&o);
    rmdir(dir);
    free(path);
}
END_TEST

/* What a restarted process finds in path after this one died without saving (kill -9). */
static const char *after_crash(const char *path)
{
    static char buf[512];
    struct outbox fresh;
    outbox_init(&fresh, 100);
    ck_assert_int_eq(outbox_load(&fresh, path), 0);
    snprintf(buf, sizeof buf, "%s", waiting(&fresh));
    outbox_clear(&fresh);
    return buf;
}

START_TEST(test_persisted_queue_survives_a_crash)
{
    char dir[256];
    char *path = tmp_path(dir, sizeof dir, "queue");
    struct outbox o;
    outbox_init(&o, 4);
    keep(&o, "early", 1);                           /* before the file is named */
    ck_assert_int_eq(outbox_persist(&o, path), 0);
    keep(&o, "a", 1);
    keep(&o, "q0", 0);
    keep(&o, "b", 1);
    send_one(&o, 7);                                /* early: in flight, not acknowledged */
    send_one(&o, 8);                                /* a */
    outbox_settle(&o, 8, true);                     /* a acknowledged: gone from the file */
    send_one(&o, 0);                                /* q0 at QoS 0: gone once sent */
    keep(&o, "c", 1);
    keep(&o, "d", 1);
    keep(&o, "e", 1);                               /* over the limit: b, the oldest, dropped */
    ck_assert_str_eq(waiting(&o), "c d e");
    /* the process dies here: nothing saved, the file holds what the page cache got */
    int fd = o.fd;
    ck_assert_int_ge(fd, 0);
    char *copy;
    ck_assert_int_ge(asprintf(&copy, "%s.copy", path), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, copy);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_str_eq(after_crash(copy), "early c d e");
    outbox_requeue(&o);                             /* connection lost: in flight goes first */
    outbox_settle(&o, 7, true);                     /* unknown by now: ignored */
    while (outbox_has_waiting(&o)) {
        send_one(&o, 1);
        outbox_settle(&o, 1, true);
    }
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0);                /* nothing owed: the log is emptied */
    keep(&o, "f", 1);
    ck_assert_int_eq(outbox_save(&o, path), 0);     /* clean stop */
    ck_assert_str_eq(after_crash(path), "f");
    outbox_clear(&o);
    free(copy);
    free(path);
    rmdir(dir);
}
END_TEST

Suite *outbox_suite(void);
Suite *outbox_suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("outbox");
    tcase_add_test(tc, test_full_drops_oldest_qos0_first);
    tcase_add_test(tc, test_snapshots_replace_and_readings_go_first);
    tcase_add_test(tc, test_no_room_at_all);
    tcase_add_test(tc, test_in_flight_until_acknowledged);
    tcase_add_test(tc, test_requeue_keeps_the_limit);
    tcase_add_test(tc, test_bequeath_goes_in_front_of_the_heir);
    tcase_add_test(tc, test_queue_file_round_trip);
    tcase_add_test(tc, test_persisted_queue_survives_a_crash);
    tcase_add_test(tc, test_damaged_queue_file);
    suite_add_tcase(s, tc);
    return s;
}
