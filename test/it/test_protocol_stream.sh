# test_protocol_stream.sh: 20,000 lines through printbridge under random resends, garbage and
# lost oks arrive in the simulator's record exactly once each and in order. The
# 200,000-line run is `test/it/stream_record.sh 200000`.
exec bash "$(dirname "$0")/stream_record.sh" "${PB_STREAM_LINES:-20000}"
