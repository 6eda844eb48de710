// lambda-raw: aws-lambda-go with the event kept as json.RawMessage, so the handler does no
// decoding: what the official Go runtime client costs by itself. Compact JSON events come
// back byte for byte.
package main

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func echo(event json.RawMessage) (json.RawMessage, error) {
	return event, nil
}

func main() {
	lambda.Start(echo)
}
