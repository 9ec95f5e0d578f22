# The factory-twin image: one image for the simulator, the edge agent and the twin service (the command picks).
# Multi-stage: the build stage makes a virtual environment; the runtime stage copies only that, runs as an
# unprivileged user, and keeps its state in /data.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/factory-twin
WORKDIR /src
COPY pyproject.toml README.md ./
COPY plantmodel/ plantmodel/
COPY historian/ historian/
COPY edge_agent/ edge_agent/
COPY twin/ twin/
COPY analytics/ analytics/
COPY simulators/ simulators/
COPY planning/ planning/
COPY factory_twin/ factory_twin/
# benchmarks/ and tests/ are not copied (and .dockerignore keeps them out): they run from a source checkout
RUN /opt/factory-twin/bin/pip install . && /opt/factory-twin/bin/pip uninstall -y pip

FROM python:3.12-slim
ENV PATH=/opt/factory-twin/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 FT_LOG_FORMAT=json
RUN groupadd --system --gid 10001 factory \
 && useradd --system --uid 10001 --gid factory --home-dir /data --shell /usr/sbin/nologin factory \
 && mkdir -p /data /etc/factory-twin && chown factory:factory /data
COPY --from=build /opt/factory-twin /opt/factory-twin
COPY configs/ /etc/factory-twin/
USER factory:factory
WORKDIR /data
VOLUME ["/data"]
# Each service's health check is in docker-compose.yml (the twin's /api/health, the agent's /health)
ENTRYPOINT ["factory-twin"]
CMD ["--help"]
