/* test_storage.c: the storage folder on a real libuv loop: events for changes made behind
 * the daemon's back (add, move, remove, folders), analysis with its cache, and uploads (good,
 * confined paths, size limit, disk full by injection and, when mounting is permitted, on a
 * real 64 KiB tmpfs). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "printbridge/base.h"
#include "printbridge/jobs.h"

Suite *storage_suite(void);

#define MAX_SEEN 64

static struct {
    char name[64];
    char *json;
} seen[MAX_SEEN];
static int nseen;
static char dir[256];
static uv_loop_t loop;
static struct events ev;
static struct storage *st;
static int upload_rc = 1;
static char upload_err[256];

static void sink(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ctx;
    (void)ts;
    if (nseen < MAX_SEEN) {
        snprintf(seen[nseen].name, sizeof seen[nseen].name, "%s", name);
        seen[nseen].json = pyjson_dumps(payload);
        nseen++;
    }
}

static void clear_seen(void)
{
    for (int i = 0; i < nseen; i++)
        free(seen[i].json);
    nseen = 0;
}

static const char *find_event(const char *name)
{
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i].name, name) == 0)
            return seen[i].json;
    return NULL;
}

static int index_of(const char *name)
{
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i].name, name) == 0)
            return i;
    return -1;
}

static void on_wait(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until name was fired (or for ms when name is NULL). */
static bool wait_for(const char *name, int ms)
{
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    bool ok = false;
    for (int i = 0; i < ms / 20; i++) {
        uv_timer_start(&t, on_wait, 20, 0);
        uv_run(&loop, UV_RUN_ONCE);
        if (name && find_event(name)) {
            ok = true;
            break;
        }
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ok;
}

static void write_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pb-storage-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    uv_loop_init(&loop);
    events_init(&ev);
    events_add_sink(&ev, sink, NULL);
    write_file("already.gcode", "G1 X1 E1\n");
    struct storage_options o = { .folder = dir, .max_upload_size = 1000, .settle_time = 0.1 };
    analysis_options_default(&o.analysis);
    ck_assert_int_eq(storage_create(&st, &loop, &ev, &o), 0);
    upload_rc = 1;
}

static void teardown(void)
{
    storage_destroy(st, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    clear_seen();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_existing_files_are_listed_and_analysed_without_add_events)
{
    ck_assert(storage_has_file(st, "already.gcode"));
    ck_assert(wait_for("MetadataAnalysisFinished", 3000));
    ck_assert_ptr_null(find_event("FileAdded"));
    struct analysis_result r;
    ck_assert_int_eq(storage_analysis(st, "already.gcode", &r), 0);
    ck_assert_double_eq(r.filament_length[0], 1);
    char cache[512];
    snprintf(cache, sizeof cache, "%s/.printbridge/already.gcode.json", dir);
    ck_assert_int_eq(access(cache, R_OK), 0);
}
END_TEST

START_TEST(test_a_new_file_is_announced_then_analysed)
{
    ck_assert(wait_for("MetadataAnalysisFinished", 3000));
    clear_seen();
    write_file("cube.gcode", "G1 X10 E2\n");
    ck_assert(wait_for("MetadataAnalysisFinished", 3000));
    ck_assert_str_eq(find_event("FileAdded"),
                     "{\"storage\": \"local\", \"path\": \"cube.gcode\", \"name\": \"cube.gcode\", "
                     "\"type\": [\"machinecode\", \"gcode\"], \"operation\": \"add\"}");
    ck_assert_str_eq(find_event("MetadataAnalysisStarted"),
                     "{\"name\": \"cube.gcode\", \"path\": \"cube.gcode\", \"origin\": \"local\"}");
    ck_assert_ptr_nonnull(strstr(find_event("MetadataAnalysisFinished"), "\"estimatedPrintTime\""));
    ck_assert_ptr_nonnull(find_event("UpdatedFiles"));
    ck_assert(index_of("FileAdded") < index_of("MetadataAnalysisStarted"));
    /* other types and hidden files are not printables */
    clear_seen();
    write_file("notes.txt", "x");
    write_file(".hidden.gcode", "x");
    wait_for(NULL, 400);
    ck_assert_int_eq(nseen, 0);
}
END_TEST

START_TEST(test_move_remove_and_folders)
{
    wait_for("MetadataAnalysisFinished", 3000);
    clear_seen();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/already.gcode", dir);
    snprintf(b, sizeof b, "%s/moved.gcode", dir);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert(wait_for("FileMoved", 2000));
    ck_assert_int_eq(index_of("FileRemoved"), 0);
    ck_assert_str_eq(seen[0].json, "{\"storage\": \"local\", \"path\": \"already.gcode\", \"name\": \"already.gcode\", "
                                   "\"type\": [\"machinecode\", \"gcode\"], \"operation\": \"move\"}");
    ck_assert_str_eq(find_event("FileMoved"),
                     "{\"storage\": \"local\", \"source_path\": \"already.gcode\", \"source_name\": \"already.gcode\", "
                     "\"source_type\": [\"machinecode\", \"gcode\"], \"destination_path\": \"moved.gcode\", "
                     "\"destination_name\": \"moved.gcode\", \"destination_type\": [\"machinecode\", \"gcode\"]}");
    struct analysis_result r;
    ck_assert_int_eq(storage_analysis(st, "moved.gcode", &r), 0);

    clear_seen();
    ck_assert_int_eq(unlink(b), 0);
    ck_assert(wait_for("FileRemoved", 2000));
    ck_assert_ptr_nonnull(strstr(find_event("FileRemoved"), "\"operation\": \"remove\""));
    ck_assert(!storage_has_file(st, "moved.gcode"));

    clear_seen();
    snprintf(a, sizeof a, "%s/sub", dir);
    ck_assert_int_eq(mkdir(a, 0755), 0);
    write_file("sub/part.gcode", "G1 X1\n");
    ck_assert(wait_for("FileAdded", 2000));
    ck_assert_str_eq(find_event("FolderAdded"), "{\"storage\": \"local\", \"path\": \"sub\", \"name\": \"sub\"}");
    ck_assert_ptr_nonnull(strstr(find_event("FileAdded"), "\"path\": \"sub/part.gcode\", \"name\": \"part.gcode\""));
    /* a file in a subfolder created after the scan is watched too */
    clear_seen();
    write_file("sub/second.gcode", "G1 X1\n");
    ck_assert(wait_for("FileAdded", 2000));
    ck_assert(storage_has_file(st, "sub/second.gcode"));

    clear_seen();
    snprintf(b, sizeof b, "%s/renamed", dir);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert(wait_for("FolderMoved", 2000));
    ck_assert(storage_has_file(st, "renamed/part.gcode"));
    ck_assert(!storage_has_file(st, "sub/part.gcode"));

    clear_seen();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", b);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert(wait_for("FolderRemoved", 2000));
    ck_assert(!storage_has_file(st, "renamed/part.gcode"));
}
END_TEST

static void on_upload(void *ctx, int rc, const char *rel, const char *err)
{
    (void)ctx;
    (void)rel;
    upload_rc = rc;
    snprintf(upload_err, sizeof upload_err, "%s", err);
}

static void no_temp_files_in(const char *d)
{
    DIR *dd = opendir(d);
    ck_assert_ptr_nonnull(dd);
    struct dirent *de;
    while ((de = readdir(dd)) != NULL)
        ck_assert_msg(strncmp(de->d_name, ".upload-", 8) != 0, "temporary file %s left", de->d_name);
    closedir(dd);
}

START_TEST(test_upload_is_atomic_and_announced)
{
    char err[256];
    const char *g = "G28\nG1 X10 E1\n";
    ck_assert_int_eq(storage_upload(st, "new/dir/up.gcode", g, strlen(g), true, false, on_upload, NULL, err, sizeof err), 0);
    ck_assert(wait_for("Upload", 3000));
    ck_assert(wait_for("FileAdded", 3000));
    ck_assert_int_eq(upload_rc, 0);
    ck_assert_str_eq(find_event("Upload"),
                     "{\"name\": \"up.gcode\", \"path\": \"new/dir/up.gcode\", \"target\": \"local\", \"select\": true, "
                     "\"print\": false, \"effective_select\": true, \"effective_print\": false}");
    char p[512];
    snprintf(p, sizeof p, "%s/new/dir/up.gcode", dir);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)strlen(g));
    snprintf(p, sizeof p, "%s/new/dir", dir);
    no_temp_files_in(p);
}
END_TEST

static int released;

static void count_release(void *owner)
{
    released++;
    free(owner);
}

/* storage_upload_take owns the bytes on every path: what it stores is them, and it releases
 * them once, stored or refused (ASan's leak check in make check fails this test otherwise) */
START_TEST(test_upload_take_stores_the_given_bytes_and_frees_refused_ones)
{
    char err[256];
    char *g = strdup("G28\nG1 X5 E1\n");
    released = 0;
    struct storage_bytes b = { .data = g, .len = strlen(g), .release = count_release, .owner = g };
    ck_assert_int_eq(storage_upload_take(st, "taken.gcode", b, false, false, on_upload, NULL, err, sizeof err), 0);
    ck_assert(wait_for("Upload", 3000));
    ck_assert_int_eq(upload_rc, 0);
    ck_assert_int_eq(released, 1);
    char p[512], back[64] = "";
    snprintf(p, sizeof p, "%s/taken.gcode", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(back, 1, sizeof back - 1, f), strlen("G28\nG1 X5 E1\n"));
    fclose(f);
    ck_assert_str_eq(back, "G28\nG1 X5 E1\n");
    char *r = strdup("G1\n");
    struct storage_bytes refused = { .data = r, .len = 3, .release = count_release, .owner = r };
    ck_assert_int_eq(storage_upload_take(st, "../out.gcode", refused, false, false, on_upload, NULL, err, sizeof err),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "out.gcode"));
    ck_assert_int_eq(released, 2);
}
END_TEST

START_TEST(test_upload_refuses_bad_paths_and_oversize)
{
    char err[256];
    const char *bad[] = { "../escape.gcode", "/etc/x.gcode", "a/../../b.gcode", "", "a//b.gcode",
                          ".hidden.gcode", "x.exe", "dir/", "a\nb.gcode" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_int_eq(storage_upload(st, bad[i], "G1\n", 3, false, false, on_upload, NULL, err, sizeof err), -EINVAL);
        ck_assert_msg(err[0] && !strchr(err, '\n'), "no one-line reason for %s", bad[i]);
    }
    static char big[2000];
    memset(big, ';', sizeof big);
    ck_assert_int_eq(storage_upload(st, "big.gcode", big, sizeof big, false, false, on_upload, NULL, err, sizeof err), -EFBIG);
    ck_assert_ptr_nonnull(strstr(err, "over the upload limit"));
    /* a symlinked folder pointing outside the storage */
    char link[512];
    snprintf(link, sizeof link, "%s/out", dir);
    ck_assert_int_eq(symlink("/tmp", link), 0);
    ck_assert_int_eq(storage_upload(st, "out/x.gcode", "G1\n", 3, false, false, on_upload, NULL, err, sizeof err), 0);
    wait_for(NULL, 300);
    ck_assert_int_eq(upload_rc, -EPERM);
    ck_assert_ptr_nonnull(strstr(upload_err, "outside the storage"));
    ck_assert_int_eq(access("/tmp/x.gcode", F_OK), -1);
    char out[512];
    ck_assert_int_eq(storage_resolve(st, "out/x.gcode", out, sizeof out, err, sizeof err), -ENOENT);
    ck_assert_int_eq(storage_resolve(st, "already.gcode", out, sizeof out, err, sizeof err), 0);
}
END_TEST

START_TEST(test_upload_disk_full_by_injection_leaves_nothing)
{
    storage_destroy(st, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    struct storage_options o = { .folder = dir, .max_upload_size = 1000, .settle_time = 0.1,
                                 .inject_write_error = ENOSPC };
    analysis_options_default(&o.analysis);
    ck_assert_int_eq(storage_create(&st, &loop, &ev, &o), 0);
    char err[256];
    ck_assert_int_eq(storage_upload(st, "full.gcode", "G1\n", 3, false, false, on_upload, NULL, err, sizeof err), 0);
    wait_for(NULL, 300);
    ck_assert_int_eq(upload_rc, -ENOSPC);
    ck_assert_str_eq(upload_err, "disk full: full.gcode was not stored");
    ck_assert_ptr_null(find_event("Upload"));
    no_temp_files_in(dir);
    char p[512];
    snprintf(p, sizeof p, "%s/full.gcode", dir);
    ck_assert_int_eq(access(p, F_OK), -1);
}
END_TEST

START_TEST(test_upload_disk_full_on_a_real_tmpfs)
{
    char mnt[512];
    snprintf(mnt, sizeof mnt, "%s/small", dir);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0) {
        fprintf(stderr, "test_storage: cannot mount a tmpfs (%s); disk-full covered by injection only\n", strerror(errno));
        return;
    }
    wait_for(NULL, 300);
    static char big[200000];
    memset(big, ';', sizeof big);
    storage_destroy(st, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    struct storage_options o = { .folder = dir, .max_upload_size = 1 << 20, .settle_time = 0.1 };
    analysis_options_default(&o.analysis);
    ck_assert_int_eq(storage_create(&st, &loop, &ev, &o), 0);
    char err[256];
    ck_assert_int_eq(storage_upload(st, "small/big.gcode", big, sizeof big, false, false, on_upload, NULL, err, sizeof err), 0);
    wait_for(NULL, 500);
    ck_assert_int_eq(upload_rc, -ENOSPC);
    no_temp_files_in(mnt);
    storage_destroy(st, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    umount(mnt);
    ck_assert_int_eq(storage_create(&st, &loop, &ev, &o), 0);
}
END_TEST

Suite *storage_suite(void)
{
    Suite *s = suite_create("storage");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_existing_files_are_listed_and_analysed_without_add_events);
    tcase_add_test(tc, test_a_new_file_is_announced_then_analysed);
    tcase_add_test(tc, test_move_remove_and_folders);
    tcase_add_test(tc, test_upload_is_atomic_and_announced);
    tcase_add_test(tc, test_upload_take_stores_the_given_bytes_and_frees_refused_ones);
    tcase_add_test(tc, test_upload_refuses_bad_paths_and_oversize);
    tcase_add_test(tc, test_upload_disk_full_by_injection_leaves_nothing);
    tcase_add_test(tc, test_upload_disk_full_on_a_real_tmpfs);
    suite_add_tcase(s, tc);
    return s;
}
