// The Go peers of the runtime benchmark (built by benchmarks/build_peers.sh): aws-lambda-go
// with a decoding and a raw handler, and a standard-library floor loop.
module bootstrap-sdk/benchmarks/peers

go 1.26

require github.com/aws/aws-lambda-go v1.55.1
