# CI stand-in for the official rabbitmq:3.10-management image, for machines that cannot reach an image registry
# (scripts/compose-check): Debian 12's rabbitmq-server (3.10) with the management plugin, honouring the part of the
# official image's contract compose/docker-compose.yml relies on: RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS,
# data in /var/lib/rabbitmq, the node named after the container's hostname, AMQP on 5672, management on 15672,
# the rabbitmq_prometheus plugin on 15692 (enabled in the official image too),
# and rabbitmq-diagnostics for the healthcheck (run as the same user as the server, so the Erlang cookie matches).
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/* \
 && rabbitmq-plugins enable --offline rabbitmq_management rabbitmq_prometheus \
 && mkdir -p /var/lib/rabbitmq /etc/rabbitmq /var/log/rabbitmq \
 && chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq /var/log/rabbitmq

COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER rabbitmq
ENV HOME=/var/lib/rabbitmq RABBITMQ_LOGS=-
VOLUME /var/lib/rabbitmq
EXPOSE 5672 15672
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
# The server script itself (not the Debian wrapper in /usr/sbin, which runs it as a child and so would leave
# SIGTERM from `docker stop` unanswered): it traps TERM and stops the node cleanly.
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
