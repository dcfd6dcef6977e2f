// Package proto holds the generated gRPC code of prox's plugin protocol.
// Edit plugin.proto and run `go generate ./sdk/proto/` (needs protoc,
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2 on PATH).
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
