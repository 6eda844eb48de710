#!/bin/sh
# file mode: the records come back as they went in
exec cp "$LAMBDA_EVENT_FILE" "$LAMBDA_RESPONSE_FILE"
