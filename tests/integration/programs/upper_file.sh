#!/bin/sh
# File mode: the event file's path is in $LAMBDA_EVENT_FILE, the response's in $LAMBDA_RESPONSE_FILE.
echo "stdout is logged in file mode" 
tr a-z A-Z < "$LAMBDA_EVENT_FILE" > "$LAMBDA_RESPONSE_FILE"
