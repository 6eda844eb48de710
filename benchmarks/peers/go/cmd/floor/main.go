// floor: the least a runtime can do under the RIE. A pass-through loop on the Go standard
// library only (one keep-alive client, no JSON): get the next event, post its bytes back
// unchanged as the response, again. No runtime can answer faster than this, so it measures
// what the RIE itself (and the loopback HTTP it relays over) imposes.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	// One client, one keep-alive connection; no timeout: /next is a long poll and the
	// process is frozen between invokes.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	for {
		resp, err := client.Get(base + "next")
		if err != nil {
			fail(err)
		}
		event, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fail(err)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		posted, err := client.Post(base+id+"/response", "application/json", bytes.NewReader(event))
		if err != nil {
			fail(err)
		}
		io.Copy(io.Discard, posted.Body)
		posted.Body.Close()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}
