# scratchnet: `make run` opens the app, `make test` runs every test. Both set everything up first.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Shared libraries Qt needs offscreen, on X (xcb), for screenshots (Xvfb) and for PyInstaller.
QT_DEBS := libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core \
           libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxkbcommon-x11-0 \
           xvfb xauth binutils

.PHONY: setup run test sysdeps bench bench-quick screenshots package package-onefile wheel lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[dev,package]"
	touch $(STAMP)

sysdeps:
	@missing=""; for p in $(QT_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing system libraries for Qt:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing system libraries (run as root to install):$$missing"; \
	  fi; \
	fi

run: setup sysdeps
	$(VPY) main.py

test: setup sysdeps
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q

# Training speed against PyTorch CPU (the bench extra pins torch==2.13.0, a CPU wheel).
# BASELINE=DIR also times another checkout side by side, e.g. git worktree add /tmp/old <commit>.
bench: setup
	$(VPY) -m pip install --quiet -e ".[dev,bench]"
	$(VPY) benchmarks/train_speed.py $(if $(BASELINE),--baseline $(BASELINE))
	$(VPY) benchmarks/conv_speed.py

bench-quick: setup
	$(VPY) -m pip install --quiet -e ".[dev,bench]"
	$(VPY) benchmarks/train_speed.py --quick

# README screenshots: the real app under Xvfb at 1280x800, after real training runs.
screenshots: setup sysdeps
	QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x800x24" $(VPY) tools/screenshots.py docs
	QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1024x600x24" $(VPY) tools/screenshots_sizes.py docs
	QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1920x1080x24" $(VPY) tools/screenshots_sizes.py docs

lint: setup
	$(VPY) -m ruff check .

# A one-folder bundle, dist/scratchnet/scratchnet, with MNIST, the icons and the licences inside.
package: setup sysdeps
	$(VPY) -m PyInstaller --noconfirm --clean --log-level WARN scratchnet.spec
	QT_QPA_PLATFORM=offscreen dist/scratchnet/scratchnet --self-test

# A single self-extracting file, dist/scratchnet-onefile/scratchnet.
package-onefile: setup sysdeps
	SCRATCHNET_ONEFILE=1 $(VPY) -m PyInstaller --noconfirm --clean --log-level WARN \
	  --distpath dist/scratchnet-onefile scratchnet.spec
	QT_QPA_PLATFORM=offscreen dist/scratchnet-onefile/scratchnet --self-test

# dist/scratchnet-<version>.tar.gz, then from it dist/scratchnet-<version>-py3-none-any.whl (MNIST and icons inside).
wheel: setup
	$(VPY) -m build

clean:
	rm -rf build dist .pytest_cache
