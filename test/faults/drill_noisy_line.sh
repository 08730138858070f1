#!/usr/bin/env bash
# drill_noisy_line.sh: a long print over a bad cable. 30,000 lines through printbridge --print
# while the simulator corrupts 5% of the lines (checksum mismatch + Resend), precedes 1% of
# its lines with garbage bytes and loses 0.2% of its oks. The simulator's --record must equal
# the file: no line lost, none run twice, order kept (test/it/stream_record.sh checks it).
set -u
PB_STREAM_SEED=11 PB_STREAM_SIM_ARGS="--resend-rate 0.05 --garbage-rate 0.01 --drop-ok-rate 0.002" \
  exec bash "$(dirname "$0")/../it/stream_record.sh" 30000
