# Dockerfile - every FlatRender daemon from one multi-stage build.
#
#   docker build --target identity -t flatrender/identity .
#   docker build --target billing  -t flatrender/billing  .
#   docker build --target gateway  -t flatrender/gateway  .
#
# Stage "build" compiles all daemons once (make build, -O2, into build/release); stage
# "runtime" holds the shared libraries, a non-root user and the migrations; one small target
# per daemon adds its binary's entry point, port and health check. Configuration comes from
# environment variables only (see docker-compose.yml and each daemon's --config-table).

# ---- build -----------------------------------------------------------------------------------
FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config libevent-dev libpq-dev libjson-c-dev libssl-dev \
      libhiredis-dev librabbitmq-dev libargon2-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY libcommon/ libcommon/
COPY gateway/ gateway/
COPY services/ services/
RUN CFLAGS="-O2 -g" make -j"$(nproc)" build BUILD=build/release \
 && strip --strip-debug build/release/bin/*

# ---- runtime base ------------------------------------------------------------------------------
FROM debian:12-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-pthreads-2.1-7 libpq5 libjson-c5 libssl3 libhiredis0.14 \
      librabbitmq4 libargon2-1 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 flatrender \
 && useradd --system --uid 10001 --gid flatrender --home-dir /nonexistent \
      --shell /usr/sbin/nologin flatrender
COPY --from=build /src/build/release/bin/ /usr/local/bin/
COPY migrations/ /usr/share/flatrender/migrations/
WORKDIR /usr/share/flatrender
ENV FR_REDIS_HOST=redis \
    FR_REDIS_PORT=6379
USER flatrender:flatrender

# ---- identity ----------------------------------------------------------------------------------
FROM runtime AS identity
ENV IDENTITY_BIND=0.0.0.0 \
    IDENTITY_PORT=8081 \
    IDENTITY_MIGRATIONS_DIR=/usr/share/flatrender/migrations/identity
EXPOSE 8081
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=12 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8081/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/identity"]

# ---- billing -----------------------------------------------------------------------------------
FROM runtime AS billing
ENV BILLING_BIND=0.0.0.0 \
    BILLING_PORT=8082 \
    BILLING_MIGRATIONS_DIR=/usr/share/flatrender/migrations/billing
EXPOSE 8082
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=12 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8082/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/billing"]

# ---- gateway (last: the default target) --------------------------------------------------------
FROM runtime AS gateway
ENV GATEWAY_BIND=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_IDENTITY_URL=http://identity:8081 \
    GATEWAY_BILLING_URL=http://billing:8082
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=12 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/gateway"]
