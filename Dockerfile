# syntax=docker/dockerfile:1
# Dockerfile — one image with every Ember binary (ember-aggregator,
# ember-agent, ember-gpusim, ember-mlsim, ember-demoapp, ember-loadgen).
#
#   docker build -t ember:latest .
#   docker run --rm -p 9090:9090 -p 7070:7070 -v ember-data:/var/lib/ember ember:latest
#
# Stage 1 builds on Debian 12 with the -dev packages (the same list as
# BUILD_PKGS in ./ember); stage 2 is debian:12-slim with only the shared
# libraries the binaries link, plus curl for the health check and
# ca-certificates for https scrapes.  The default command runs the
# aggregator; compose and Kubernetes pick another binary with `command:`.
# Checked by tests/integration/test_deploy.c (stages, base images, non-root
# USER, HEALTHCHECK, every binary copied) since hadolint is not in Debian 12.

FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config ca-certificates \
      libnng-dev libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev librocksdb-dev \
      libsnappy-dev libzstd-dev liblz4-dev libpcre2-dev libcurl4-openssl-dev libyaml-dev \
      libmbedtls-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Tests are not built here (no cmocka): `./ember test` runs them outside.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DEMBER_TESTS=OFF \
 && cmake --build /build -j "$(nproc)" --target \
      ember-aggregator ember-agent ember-gpusim ember-mlsim ember-demoapp ember-loadgen

FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only: what `objdump -p build/bin/ember-* | grep NEEDED` lists.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libnng1 libprotobuf-c1 libmicrohttpd12 librocksdb7.8 libzstd1 libpcre2-8-0 \
      libcurl4 libyaml-0-2 libmbedtls14 libsnappy1v5 zlib1g ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ember \
 && useradd --system --uid 10001 --gid ember --home-dir /var/lib/ember --shell /usr/sbin/nologin ember \
 && install -d -o ember -g ember -m 0750 /var/lib/ember
COPY --from=build /build/bin/ember-aggregator /usr/local/bin/ember-aggregator
COPY --from=build /build/bin/ember-agent /usr/local/bin/ember-agent
COPY --from=build /build/bin/ember-gpusim /usr/local/bin/ember-gpusim
COPY --from=build /build/bin/ember-mlsim /usr/local/bin/ember-mlsim
COPY --from=build /build/bin/ember-demoapp /usr/local/bin/ember-demoapp
COPY --from=build /build/bin/ember-loadgen /usr/local/bin/ember-loadgen
USER 10001:10001
WORKDIR /var/lib/ember
VOLUME ["/var/lib/ember"]
EXPOSE 9090 7070
# The aggregator's liveness endpoint; other commands override it in compose.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9090/-/healthy"]
ENTRYPOINT []
CMD ["/usr/local/bin/ember-aggregator", "--data-dir", "/var/lib/ember/aggregator", \
     "--http-listen", "0.0.0.0:9090", "--ingest-listen", "tcp://0.0.0.0:7070"]
