#!/usr/bin/env bash
# The whole story on the default data dir: back up a database while a writer
# commits, compress the stream, restore it into another database, verify the
# backup, and show that both databases agree at the backup's last LSN.
set -euo pipefail
bin=${HOTPIPE:-./hotpipe}
data=${DATA_DIR:-./data}
hp() { "$bin" --data-dir "$data" "$@"; }

rm -rf "$data/foo" "$data/bar" "$data/foo.bz2"
hp db create foo
hp load foo --txs 200000 >/dev/null
echo "== a writer keeps committing in the background"
"$bin" --data-dir "$data" load foo --txs 100000000 --rate 20000 --workers 64 >/dev/null &
writer=$! # hotpipe itself, so that SIGINT reaches it
trap 'kill -INT $writer 2>/dev/null || true' EXIT
sleep 1

echo "== hotpipe hot-backup foo | bzip2 > $data/foo.bz2"
hp hot-backup foo | bzip2 > "$data/foo.bz2"
echo "== bunzip2 -c $data/foo.bz2 | hotpipe hot-restore bar"
bunzip2 -c "$data/foo.bz2" | hp hot-restore bar
echo "== hotpipe verify -i $data/foo.bz2"
hp verify -i "$data/foo.bz2"

kill -INT "$writer"
wait "$writer" || true
trap - EXIT
read -r lsn _ < <(hp db hash bar)
echo "== both databases at the backup's last LSN $lsn"
foo=$(hp db hash foo "$lsn")
bar=$(hp db hash bar "$lsn")
echo "foo: $foo"
echo "bar: $bar"
echo "foo is now at LSN $(hp db hash foo | cut -d' ' -f1) (the writer went on)"
if [ "$foo" = "$bar" ]; then echo "equal"; else echo "NOT EQUAL"; exit 1; fi
