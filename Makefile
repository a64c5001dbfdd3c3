# edge-agent: `make run` runs the agent with its defaults, `make test` sets up
# and runs the tests. Everything builds with CGO_ENABLED=0: one static file.

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS  := -s -w -X edge-agent/agent.version=$(VERSION) -X edge-agent/agent.commit=$(COMMIT)
GOBUILD  := CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)"
MAIN     := ./agent/cmd/edge-agent
FUZZTIME ?= 10s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Debian packages the tests run against (command or path:package).
TEST_DEPS := python3:python3 \
	/usr/lib/python3/dist-packages/ntplib.py:python3-ntplib \
	/usr/lib/python3/dist-packages/jinja2/__init__.py:python3-jinja2 \
	chronyd:chrony ntpdig:ntpsec-ntpdig ip:iproute2 unshare:util-linux \
	/usr/share/zoneinfo/Europe/Berlin:tzdata mosquitto:mosquitto \
	ssh-keygen:openssh-client ssh-agent:openssh-client dbus-daemon:dbus-daemon

.PHONY: all build run test deps fuzz lint chaos system-test bench bench-go bench-echo bench-time bench-file cross readme-config clean

all: build

build:
	$(GOBUILD) -o dist/edge-agent $(MAIN)

run: build
	./dist/edge-agent run

deps:
	scripts/deps.sh $(TEST_DEPS)

test: deps
	go vet ./...
	go test -race -count=1 ./...
	scripts/fuzz.sh $(FUZZTIME)

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

# The hostile-client battery against dist/edge-agent (CHAOS_DURATION=3m).
chaos: build
	scripts/deps.sh mosquitto:mosquitto
	CHAOS_AGENT=dist/edge-agent scripts/chaos.sh

# Debian bookworm with systemd in qemu, driven from outside: install,
# deploy over ssh, reboot, power cuts, clock steps, timesyncd and chrony,
# signed updates and their rollbacks, power cuts during updates, a canary
# (ARCH=arm64: install, deploy and reboot; POWER_CUTS=50 for more cuts).
# The update steps' binaries: the agent as VERSION-next, and two that pass
# every check and then fail, one exiting at once and one hanging
# (agent/update/testdata/helper).
ARCH ?= amd64
SYSTEM_TEST_DEPS := mmdebstrap:mmdebstrap qemu-system-x86_64:qemu-system-x86 \
	qemu-system-aarch64:qemu-system-arm qemu-aarch64-static:qemu-user-static \
	arch-test:arch-test mkfs.ext4:e2fsprogs ssh:openssh-client unshare:util-linux ip:iproute2 \
	mosquitto_passwd:mosquitto mosquitto_rr:mosquitto-clients socat:socat python3:python3

system-test: build
	scripts/deps.sh $(SYSTEM_TEST_DEPS)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -trimpath -ldflags "$(LDFLAGS)" -o dist/edge-agent-linux-$(ARCH) $(MAIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -trimpath \
		-ldflags "-s -w -X edge-agent/agent.version=$(VERSION)-previous -X edge-agent/agent.commit=$(COMMIT)" \
		-o dist/system-test/edge-agent-previous-linux-$(ARCH) $(MAIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -trimpath \
		-ldflags "-s -w -X edge-agent/agent.version=$(VERSION)-next -X edge-agent/agent.commit=$(COMMIT)" \
		-o dist/system-test/edge-agent-next-linux-$(ARCH) $(MAIN)
	for bad in exits:fail hangs:hang; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -C agent/update/testdata/helper -trimpath \
			-ldflags "-s -w -X main.version=$(VERSION)-$${bad%%:*} -X main.onRun=$${bad##*:}" \
			-o $(CURDIR)/dist/system-test/update-$${bad%%:*}-linux-$(ARCH) . || exit 1; \
	done
	ARCH=$(ARCH) scripts/system-test.sh

bench: bench-go bench-echo bench-time bench-file

bench-go:
	go test -run '^$$' -bench . -benchmem -count 6 ./... | tee dist/bench-go.txt

bench-echo: build
	scripts/bench-echo.sh

bench-time: build
	scripts/bench-time.sh

bench-file: build
	scripts/bench-file.sh

cross:
	GOOS=linux GOARCH=arm GOARM=6 $(GOBUILD) -o dist/edge-agent-linux-armv6 $(MAIN)
	GOOS=linux GOARCH=arm GOARM=7 $(GOBUILD) -o dist/edge-agent-linux-armv7 $(MAIN)
	GOOS=linux GOARCH=arm64 $(GOBUILD) -o dist/edge-agent-linux-arm64 $(MAIN)
	GOOS=linux GOARCH=amd64 $(GOBUILD) -o dist/edge-agent-linux-amd64 $(MAIN)
	@# -trimpath leaves the version out of the build information:
	@# edge-agent fleet update reads it here.
	echo '$(VERSION)' > dist/VERSION
	@ls -l dist/edge-agent-linux-*

# Regenerates the configuration table in README.md from the Config struct.
readme-config:
	mkdir -p dist
	go run $(MAIN) config --markdown > dist/config.md
	scripts/splice.sh README.md '<!-- config:begin -->' '<!-- config:end -->' dist/config.md

clean:
	rm -rf dist
