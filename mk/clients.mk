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

JAVA_DIR := client/java
JAVA_BUILD := $(JAVA_DIR)/build
JAVA_JAR := $(JAVA_BUILD)/diabetes-client.jar
JAVA_CLIENT := $(JAVA_DIR)/bin/diabetes-client
JAVA_SOURCES := $(shell find $(JAVA_DIR)/src/main/java -name '*.java')
# Debian's jars (versions in client/java/README.md); netty's are the ones grpc-netty uses.
JAVA_CLASSPATH := $(subst $(eval) ,:,$(foreach jar,grpc-api grpc-context grpc-core grpc-netty \
	grpc-protobuf grpc-protobuf-lite grpc-stub protobuf guava perfmark-api gson \
	geronimo-annotation-1.3-spec netty-buffer netty-codec netty-codec-http netty-codec-http2 \
	netty-codec-socks netty-common netty-handler netty-handler-proxy netty-resolver \
	netty-transport,/usr/share/java/$(jar).jar))
# The contract, the google.api annotations it imports and gRPC's health protocol (Debian has
# no grpc-services jar; Maven users get io.grpc.health.v1 from it).
JAVA_PROTOS := $(CONTRACT) third_party/googleapis/google/api/annotations.proto \
	third_party/googleapis/google/api/http.proto third_party/grpc/grpc/health/v1/health.proto

$(JAVA_JAR): $(JAVA_PROTOS) $(JAVA_SOURCES)
	rm -rf $(JAVA_BUILD) && mkdir -p $(JAVA_BUILD)/gen $(JAVA_BUILD)/classes
	protoc -I protos -I third_party/googleapis -I third_party/grpc \
		--java_out=$(JAVA_BUILD)/gen --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin \
		--grpc-java_out=$(JAVA_BUILD)/gen $(JAVA_PROTOS)
	javac -nowarn -encoding UTF-8 --release 17 -d $(JAVA_BUILD)/classes -cp $(JAVA_CLASSPATH) \
		$$(find $(JAVA_BUILD)/gen -name '*.java') $(JAVA_SOURCES)
	jar cf $@ -C $(JAVA_BUILD)/classes .

$(JAVA_CLIENT): $(JAVA_JAR) mk/clients.mk
	mkdir -p $(dir $@)
	printf '%s\n' '#!/bin/sh' '# diabetes-client (Java): built by `make java-client`.' \
		'here=$$(cd "$$(dirname "$$0")" && pwd)' \
		'exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$$here/../build/diabetes-client.jar:$(JAVA_CLASSPATH)" com.example.diabetes.cli.Main "$$@"' \
		> $@
	chmod +x $@
	printf '%s' '$(CURDIR)/$(JAVA_JAR):$(JAVA_CLASSPATH)' > $(JAVA_BUILD)/classpath

## Build the Java client's CLI: client/java/bin/diabetes-client (Debian's jars).
java-client: system-deps $(JAVA_CLIENT)
