# CI stand-in for the official swift:6.3-bookworm image, for machines that cannot reach an image registry
# (scripts/compose-check). Debian 12 from a local debootstrap, plus the build machine's own Swift toolchain
# under /usr as in the official image, the packages the official image installs for building, and the machine's
# copy of the Swift package sources (git reads github.com addresses from /opt/swift-packages).
# Build context: a tar stream made by scripts/compose-check (this file, opt/swift/usr, opt/swift-packages).
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends \
      binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libncurses-dev libpython3-dev \
      libsqlite3-0 libstdc++-12-dev libxml2-dev libz3-dev pkg-config tzdata unzip zlib1g-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*

COPY opt/swift/usr/ /usr/
COPY opt/swift-packages/ /opt/swift-packages/
RUN git config --system url."/opt/swift-packages/".insteadOf https://github.com/ \
 && git config --system --add safe.directory '*' \
 && swift --version
