#!/bin/sh
echo "reading ledger" >&2
echo "ledger corrupt at record 7" >&2
exit 3
