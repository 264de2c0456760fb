# aviary: a multi-stage build. The build stage compiles a release binary with
# the Swift standard library linked in statically; the runtime stage is a
# slim Debian with libcurl (OpenSSL), CA certificates and a non-root user.
#
#   docker build -t aviary:0.1.0-dev .
#
# scripts/test.sh builds the binary the same way (swift build -c release
# --static-swift-stdlib) and runs it, so this recipe is checked even where
# no container engine exists.

FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libcurl4-openssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product aviary \
 && install -D "$(swift build -c release --show-bin-path)/aviary" /out/aviary

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 aviary && useradd --system --uid 65532 --gid aviary --no-create-home aviary
COPY --from=build /out/aviary /usr/local/bin/aviary
RUN ln -s /usr/local/bin/aviary /usr/local/bin/kubectl-aviary
USER 65532:65532
EXPOSE 8080 8090
ENTRYPOINT ["/usr/local/bin/aviary"]
CMD ["controller"]
