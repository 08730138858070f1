/* check_table.h: table-driven Check tests. LOOP adds fn as a loop test that runs once per row
 * of table, with the row's index in _i. */
#ifndef TEST_CHECK_TABLE_H
#define TEST_CHECK_TABLE_H

#include <check.h>

#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof(table) / sizeof((table)[0])))

#endif
