# vifd: every entry point a person or CI uses. `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MOCHA      := node_modules/.bin/mocha
MOCHA_OPTS := --reporter test/support/reporter.cjs --forbid-only $(if $(filter true,$(CI)),--forbid-pending)
UNIT        = 'dist/test/unit/**/*.test.js'
INTEGRATION = 'dist/test/integration/**/*.test.js'
E2E         = 'dist/test/e2e/**/*.test.js'
GUEST_DIR  ?= /var/cache/vifd-test/guest
PREFIX     ?= /usr/local
DEB_DIR    := dist/deb
DEB         = $(DEB_DIR)/vifd_$(shell node -p 'require("./package.json").version')_$(shell dpkg --print-architecture).deb

.PHONY: help setup deps build lint fmt guest-image install uninstall test test-unit test-integration test-e2e bench lab lab-down clean

help:
	@echo "make test               install what is missing (root), build, lint, run every test tier (e2e against the installed .deb)"
	@echo "make test-unit          pure tests only (no root, no host services)"
	@echo "make test-integration   tests against one real component (root)"
	@echo "make test-e2e           real guests and packets (root)"
	@echo "make lint               eslint: types, import boundaries, file and function size, layout"
	@echo "make fmt                apply the layout rules (the formatter) to every file; make lint checks them"
	@echo "make setup              host packages and services only (root, idempotent)"
	@echo "make guest-image        build or reuse the cached test guest ($(GUEST_DIR))"
	@echo "make bench              benchmarks, JSON lines with ratios against baselines (root)"
	@echo "make install            vifd, vifctl, the libvirt hook, the systemd unit, the example config under PREFIX/share/doc/vifd/examples (root)"
	@echo "make uninstall          remove what make install put in place (the config stays)"
	@echo "make deb                the Debian package, dist/deb/vifd_<version>_<arch>.deb (scripts/build-deb.sh)"
	@echo "make lab                the demo: vifd as a daemon, VMs on two VLANs, VIF table and ping matrix (root)"
	@echo "make lab-down           remove the lab and vifd's installation; nothing of either stays"

setup:
	@scripts/host-setup.sh

node_modules/.stamp: package.json package-lock.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("vifd needs Node.js >= 20.19, this is "+process.version); process.exit(1) }'
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.stamp

build: deps
	@rm -rf dist
	node_modules/.bin/tsc -p .

# The formatter is eslint's layout rules (@stylistic, eslint.layout.config.js): lint
# checks them with everything else, fmt applies them and nothing else.
lint: deps
	@node_modules/.bin/eslint . || { echo "make lint: failed; layout errors (@stylistic/...) are fixed by: make fmt" >&2; exit 1; }

fmt: deps
	node_modules/.bin/eslint --config eslint.layout.config.js --fix .

guest-image: setup
	@scripts/build-guest-image.sh "$(GUEST_DIR)"

# The libvirt hook is only run by libvirtd once installed (and libvirtd restarted
# if it predates the hook), so the e2e tiers test the installed copy of this build.
install: build
	@scripts/install.sh --prefix $(PREFIX)
	@scripts/libvirt-reload-hooks.sh

uninstall:
	@scripts/install.sh --uninstall --prefix $(PREFIX)

# Unit, integration and the lab on this build (make lab uses make install's
# copy), then the rest of the e2e tier against the Debian package, installed with
# dpkg and purged after (scripts/run-tests.sh): one totals line at the end.
test: setup build lint guest-image install deb
	VIFD_GUEST_DIR=$(GUEST_DIR) scripts/run-tests.sh $(DEB) $(MOCHA) $(MOCHA_OPTS)

test-unit: build
	$(MOCHA) $(MOCHA_OPTS) $(UNIT)

test-integration: setup build
	$(MOCHA) $(MOCHA_OPTS) $(INTEGRATION)

test-e2e: setup build guest-image install
	VIFD_GUEST_DIR=$(GUEST_DIR) $(MOCHA) $(MOCHA_OPTS) $(E2E)

# Benchmarks need root and Open vSwitch; each prints JSON lines with ratios
# against a baseline measured in the same run.
bench: setup build
	@for f in dist/bench/*.bench.js; do node "$$f" || exit 1; done

# The demo on one machine (README "The lab"): vifd as a daemon, VMs on two
# VLANs, a ping matrix. lab-down removes all of it, vifd's installation included.
lab: setup build guest-image install
	node dist/lab/lab.js up

lab-down:
	@[ -f dist/lab/lab.js ] || $(MAKE) --no-print-directory build
	node dist/lab/lab.js down

# The Debian package (README "Installing the package"): dpkg-deb only, the
# production node_modules bundled; reproducible for one SOURCE_DATE_EPOCH.
.PHONY: deb
deb: build
	@scripts/build-deb.sh --out $(DEB_DIR)

clean:
	rm -rf dist
