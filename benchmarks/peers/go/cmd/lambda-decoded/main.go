// lambda-decoded: the echo function as most Go Lambda code is written, with
// aws-lambda-go decoding the event into interface{} and encoding it back. It shows what
// the official Go runtime client costs when it does the JSON work a handler usually does.
// Key order of objects may differ from the event (Go maps are re-encoded sorted).
package main

import "github.com/aws/aws-lambda-go/lambda"

func echo(event interface{}) (interface{}, error) {
	return event, nil
}

func main() {
	lambda.Start(echo)
}
