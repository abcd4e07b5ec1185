# The Go and Java clients (client/go, client/java), built from the contract with Debian's
# packages: no Go module proxy or Maven repository is needed (users outside build with
# client/go/go.mod or client/java/pom.xml instead).
#   make go-client     client/go/bin/diabetes-client
#   make java-client   client/java/bin/diabetes-client (a launcher script) and the jar
# Both run by `make test` (test-deps); the stubs are generated here, never committed.

# golang-github-golang-protobuf-1-5-dev replaces the default 1-3 package, whose pre-APIv2
# runtime panics on the first reply of protoc-gen-go 1.28 stubs.
SYSTEM_PACKAGES += golang-go golang-google-grpc-dev golang-google-protobuf-dev \
	golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev
# libgrpc-java pulls in neither netty, perfmark nor gson; the generated service class
# needs javax.annotation.Generated (geronimo-annotation).
SYSTEM_PACKAGES += default-jdk-headless libgrpc-java libprotobuf-java libnetty-java \
	libperfmark-java libgoogle-gson-java libgeronimo-annotation-1.3-spec-java
test-deps: go-client java-client

.PHONY: go-client java-client

CONTRACT := protos/diabetes/v1/prediction.proto
GO_DIR := client/go
GO_STUBS := $(GO_DIR)/gen/go/diabetes/v1/prediction.pb.go
GO_CLIENT := $(GO_DIR)/bin/diabetes-client
# GOPATH mode over Debian's Go sources, with this module linked in at its import path.
GO_PATH := $(CURDIR)/$(GO_DIR)/build/gopath
GO_LINK := $(GO_PATH)/src/example.com/diabetes

$(GO_STUBS): $(CONTRACT)
	mkdir -p $(GO_DIR)/gen/go
	protoc -I protos -I third_party/googleapis \
		--go_out=$(GO_DIR)/gen/go --go_opt=paths=source_relative \
		--go-grpc_out=$(GO_DIR)/gen/go --go-grpc_opt=paths=source_relative $(CONTRACT)

$(GO_CLIENT): $(GO_STUBS) $(shell find $(GO_DIR)/client $(GO_DIR)/cmd -name '*.go')
	mkdir -p $(dir $(GO_LINK)) && ln -sfn ../../../.. $(GO_LINK)
	cd $(GO_LINK) && GOPATH=$(GO_PATH):/usr/share/gocode GO111MODULE=off \
		go build -o $(CURDIR)/$(GO_CLIENT) ./cmd/diabetes-client

## Build the Go client's CLI: client/go/bin/diabetes-client (Debian's Go packages).
go-client: system-deps $(GO_CLIENT)
