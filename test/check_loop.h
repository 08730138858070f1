/* check_loop.h: running a test's libuv loop (the test file's `loop`) until a condition holds
 * or a time passes. What must arrive is waited for, so a loaded machine only makes a test
 * slower; a wait on a condition that never holds (run_for) stays only where a test asserts
 * that nothing happens. */
#ifndef PB_CHECK_LOOP_H
#define PB_CHECK_LOOP_H

#include <stdint.h>
#include <uv.h>

#define RUN_UNTIL(cond, seconds)                                                    \
    do {                                                                            \
        uint64_t until_ = uv_now(&loop) + (uint64_t)((seconds) * 1000);             \
        while (!(cond) && uv_now(&loop) < until_)                                   \
            uv_run(&loop, UV_RUN_ONCE);                                             \
    } while (0)

#endif
