# CI stand-in for the official postgres:15-bookworm image, for machines that cannot reach an image registry
# (scripts/compose-check): Debian 12's PostgreSQL 15, honouring the part of the official image's contract
# compose/docker-compose.yml relies on: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the superuser and
# database on first start, data in /var/lib/postgresql/data, password (scram-sha-256) logins over TCP on 5432,
# pg_isready on the PATH, and a first-start initialisation that listens on the socket only.
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data

COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
