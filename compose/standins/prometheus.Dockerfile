# CI stand-in for the official prom/prometheus:v2.42.0 image, for machines that cannot reach an image registry
# (scripts/compose-check): Debian 12's prometheus (2.42), honouring the part of the official image's contract
# compose/docker-compose.yml relies on: /bin/prometheus as the entrypoint (Debian 12's /bin is /usr/bin), the configuration in /etc/prometheus,
# data in /prometheus, the web UI and API on 9090, running as nobody.
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && test -x /bin/prometheus \
 && mkdir -p /prometheus && chown nobody:nogroup /prometheus

USER nobody
VOLUME /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
